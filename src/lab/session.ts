import {promises as fs} from 'node:fs'
import path from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'

import {ganeshaReload} from '../backends/nfs/ganesha.js'
import {type LabDaemon} from '../backends/types.js'
import {type SiteModel} from '../config/site.js'
import {shellWord} from '../render/cron.js'
import {type LabSessionInfo} from '../status/lab-session.js'
import {type Context} from '../system/context.js'
import {type Daemon} from '../system/daemon.js'
import {readIfExists} from '../system/files.js'
import {isAlive, killAll, signalProcess} from '../system/processes.js'
import {EMU_COMMANDS, ipmiSimArgs, qemuBmcArgs, renderLanConf} from './bmc.js'
import {fatalLine, identityIn, plainConsole} from './milestones.js'
import {qemuArgs} from './qemu.js'
import {bindRootsInLab} from './root-binds.js'
import {LabRun, type LabServers, type LabServersUp, type LabVm} from './run.js'
import {type LabTools} from './tools.js'

/** A node of a lab session: its VM, and the BMC the inventory gives it (the password from the site's secrets). */
export interface SessionNode {
  vm: LabVm
  bmc: {address: string, user: string, password: string, cipher?: number}
}

export interface LabSessionOptions {
  accel: 'kvm' | 'tcg'
  memoryMiB?: number
  /** The session's longest life, seconds: every process it starts is bounded by it. */
  maxSeconds: number
  keepLogs?: string
}

/** The programs a session runs besides a lab run's, with their Debian packages. */
export const SESSION_PROGRAMS = {'ipmi_sim': 'openipmi', ipmitool: 'ipmitool', 'dbus-daemon': 'dbus', 'dbus-send': 'dbus'} as const

const POLL_MS = 500
/** How long a powered-on VM's start waits for the session to bring its files up to date. */
const SYNC_WAIT_S = 60
const FIRST_VM_PORT = 9100

/**
 * A lab that stays up: the site's servers as `lab boot` runs them, plus one emulated BMC per node
 * (OpenIPMI's ipmi_sim at the node's BMC address in the lab's namespace) whose power-on starts
 * the node's VM and whose power-off stops it (qemu's ipmi-bmc-extern: gracefully through the
 * VM's ACPI power button for "soft", at once for "off"). Nothing boots by itself: pxeroot
 * commands run in the namespace power nodes through the same drivers as on hardware.
 *
 * The lab's delta for a session, beside lab boot's: before a VM starts (its BMC powers it on), the
 * session does what apply's reload does on a server, to the lab's own servers: the node's loader
 * copy is made again from the file apply wrote (its revision may have changed), and when its root
 * is another directory than the lab's NFS-Ganesha exports (rebase, rollback), that export is
 * removed over D-Bus and Ganesha reloaded (SIGHUP), which adds it again on the new root. And a
 * VM whose console shows a boot that will not get anywhere (lab boot's fatal lines: a kernel
 * panic, an initramfs shell) is stopped, so its BMC reports it off: a rollout's wait sees a failed
 * boot in seconds, not at its timeout. A VM that reboots powers off (qemu -no-reboot, as in lab boot).
 */
export class LabSession {
  private stopped = false
  private loop?: Promise<void>
  private exported = new Map<string, string>()
  /** The boot each VM's console was last judged on (a new boot truncates the serial log). */
  private judged = new Map<string, 'login' | 'failed'>()
  private bmcs: Daemon[] = []
  info?: LabSessionInfo
  private up?: LabServersUp

  private constructor(private readonly ctx: Context, private readonly lab: LabRun, private readonly nodes: SessionNode[], private readonly options: LabSessionOptions) {}

  /** Starts the namespace, the servers and the BMCs, and writes the session's description; stopped again on failure. */
  static async start(ctx: Context, site: SiteModel, tools: LabTools, nodes: SessionNode[], servers: LabServers, options: LabSessionOptions): Promise<LabSession> {
    const dir = await ctx.files.tempDir(`pxeroot-lab-${process.pid}-`)
    const lab = new LabRun(ctx, site, tools, dir, options.accel, {nodes: nodes.map((n) => n.vm.node.name), timeout: options.maxSeconds, ...(options.keepLogs ? {keepLogs: options.keepLogs} : {})})
    const session = new LabSession(ctx, lab, nodes, options)
    try {
      await session.open(servers)
    } catch (error) {
      await session.stop(false)
      throw error
    }
    return session
  }

  private file(name: string): string {
    return this.lab.dir.file(name)
  }

  private async open(servers: LabServers): Promise<void> {
    const {ctx, lab} = this
    const ns = await lab.open()
    // The system bus of the lab's servers (its /run is private): Ganesha's ExportMgr is reached over it.
    const bus = `unix:path=${this.file('dbus.socket')}`
    const dbus = lab.daemon('dbus-daemon', lab.tools['dbus-daemon'], ['--system', `--address=${bus}`, '--nofork', '--nopidfile'], this.file('dbus.log'))
    await lab.until(dbus, 'listening', async () => Boolean(await fs.stat(this.file('dbus.socket')).catch(() => undefined)))
    const withBus = (spec: LabDaemon): LabDaemon => ({...spec, env: {...spec.env, DBUS_SYSTEM_BUS_ADDRESS: bus}})
    const vms = this.nodes.map((n) => n.vm)
    this.up = await lab.startServers(vms, {...servers, nfs: (env) => withBus(servers.nfs(env))})
    for (const {vm} of this.nodes) {
      const id = await this.rootIdentity(vm)
      if (id) this.exported.set(vm.node.name, id)
    }
    for (const [i, node] of this.nodes.entries()) await this.startBmc(node, i)
    for (const node of this.nodes) await this.waitForBmc(node)
    this.info = {
      namespace: ns.name,
      runDir: lab.dir.path,
      leaseFiles: this.up.dhcp.leaseFile ? [this.up.dhcp.leaseFile] : [],
      fetchLogs: this.up.web?.access ? [this.up.web.access.log] : [],
      nodes: this.nodes.map((n) => ({name: n.vm.node.name, bmc: n.bmc.address, serialLog: this.file(`${n.vm.node.name}.serial.log`)})),
      pid: process.pid,
    }
    await lab.dir.write('session.json', JSON.stringify(this.info, null, 2) + '\n', 0o644)
    ctx.log(`lab: session up in ${ns.name}: BMCs ${this.nodes.map((n) => `${n.vm.node.name} at ${n.bmc.address}`).join(', ')}; every node is powered off`)
    this.loop = this.watch()
  }

  /** One node's BMC: its address in the namespace, the VM its power-on starts, and ipmi_sim. */
  private async startBmc(node: SessionNode, i: number): Promise<void> {
    const {lab, ctx} = this
    const ns = await lab.open()
    const name = node.vm.node.name
    const tap = `lab${i}`
    await ns.addTap(tap)
    await ns.addAddress(`${node.bmc.address}/32`)
    const vmPort = FIRST_VM_PORT + i
    const qemu = [lab.tools['qemu-system-x86_64'], ...qemuArgs({
      name, mac: node.vm.target.mac, tap, serialLog: this.file(`${name}.serial.log`), capture: this.file(`${name}.pcap`),
      memoryMiB: this.options.memoryMiB ?? 512, accel: this.options.accel,
    }), ...qemuBmcArgs(vmPort), '-pidfile', this.file(`${name}.qemu.pid`)]
    const request = this.file(`${name}.power-on`)
    const script = [
      '#!/bin/sh',
      `# pxeroot lab session: ${name}'s BMC powers it on. The session first brings the node's loader`,
      '# copy and its export up to date (what apply\'s reload does on a server), then the VM starts.',
      `: > ${shellWord(request)}`,
      'i=0',
      `while [ -e ${shellWord(request)} ] && [ $i -lt ${SYNC_WAIT_S * 10} ]; do sleep 0.1; i=$((i+1)); done`,
      `exec ${qemu.map(shellWord).join(' ')}`,
      '',
    ].join('\n')
    const start = await lab.dir.write(`${name}.power-on.sh`, script, 0o700)
    await lab.dir.mkdir(`${name}.bmc-state`)
    const lanConf = await lab.dir.write(`${name}.lan.conf`, renderLanConf({node: name, address: node.bmc.address, user: node.bmc.user, password: node.bmc.password, vmPort, startCommand: `/bin/sh ${start}`}), 0o600)
    const emuCmd = await lab.dir.write(`${name}.emu.cmd`, EMU_COMMANDS, 0o644)
    this.bmcs.push(lab.daemon(`BMC of ${name}`, lab.tools.ipmi_sim, ipmiSimArgs({lanConf, emuCmd, stateDir: this.file(`${name}.bmc-state`)}), this.file(`${name}.bmc.log`)))
    ctx.log(`lab: ${name}: BMC (ipmi_sim) at ${node.bmc.address}, VM on ${tap}`)
  }

  /** Until the BMC answers IPMI over LAN with the node's credentials (the simulator starts in well under a second). */
  private async waitForBmc(node: SessionNode): Promise<void> {
    const {lab} = this
    const ns = await lab.open()
    const d = this.bmcs.find((b) => b.name === `BMC of ${node.vm.node.name}`)!
    const args = ['-I', 'lanplus', '-H', node.bmc.address, '-U', node.bmc.user, '-E', ...(node.bmc.cipher === undefined ? [] : ['-C', String(node.bmc.cipher)]), '-N', '1', '-R', '1', 'chassis', 'power', 'status']
    await lab.until(d, 'answering', async () => (await this.ctx.runner.run(...ns.inNet(lab.tools.ipmitool, args), {env: {IPMI_PASSWORD: node.bmc.password}, reject: false, timeout: 10_000})).exitCode === 0)
  }

  private async rootIdentity(vm: LabVm): Promise<string | undefined> {
    const st = await fs.stat(this.ctx.root.resolve(vm.node.rootPath)).catch(() => undefined)
    return st?.isDirectory() ? `${st.dev}:${st.ino}` : undefined
  }

  /** Follows the BMCs' power-on requests and the VMs' consoles until stopped. */
  private async watch(): Promise<void> {
    while (!this.stopped && !this.ctx.signal.aborted) {
      for (const node of this.nodes) {
        const name = node.vm.node.name
        try {
          if (await fs.stat(this.file(`${name}.power-on`)).catch(() => undefined)) {
            await this.beforePowerOn(node)
            await this.ctx.files.remove(this.file(`${name}.power-on`))
          }
          await this.judgeConsole(node)
        } catch (error) {
          this.ctx.log(`lab: ${name}: ${(error as Error).message}`)
        }
      }
      await sleep(POLL_MS)
    }
  }

  /** What apply's reload does on a server, for the lab's servers, before the node's VM starts. */
  private async beforePowerOn(node: SessionNode): Promise<void> {
    const {vm} = node
    const name = vm.node.name
    const ns = await this.lab.open()
    // A new boot, a new console: judged afresh.
    await this.lab.dir.write(`${name}.serial.log`, '', 0o644)
    this.judged.delete(name)
    await this.lab.writeLoaderCopy(vm)
    const now = await this.rootIdentity(vm)
    const before = this.exported.get(name)
    if (now && before && now !== before) {
      await bindRootsInLab(this.ctx, [vm.node], ns.enterMounts)
      const [remove] = ganeshaReload({changed: [], retired: false, switched: [{exportId: vm.node.exportId, path: vm.node.rootPath}]})
      const bus = {DBUS_SYSTEM_BUS_ADDRESS: `unix:path=${this.file('dbus.socket')}`}
      const r = await this.ctx.runner.run(...ns.inLab(this.lab.tools['dbus-send'], remove.args), {env: bus, reject: false, timeout: 20_000})
      if (r.exitCode !== 0 && !remove.nothingToDo?.test(`${r.stdout}\n${r.stderr}`)) throw new Error(`could not remove the export of ${vm.node.rootPath} from NFS-Ganesha: ${r.stderr.trim()}`)
      const pid = Number.parseInt((await readIfExists(this.file('ganesha.pid')))?.toString() ?? '', 10)
      if (pid > 0) signalProcess(pid, 'SIGHUP')
      this.ctx.log(`lab: ${name}: its root ${vm.node.rootPath} is another directory now: NFS-Ganesha told (RemoveExport ${vm.node.exportId}, reload)`)
      // Ganesha re-adds the export asynchronously; the VM asks for its root tens of seconds later.
      await sleep(1000)
    }
    if (now) this.exported.set(name, now)
    this.ctx.log(`lab: ${name}: powered on by its BMC (${vm.target.kernel})`)
  }

  /** A VM whose console says the boot will not get anywhere is stopped, so its BMC reports it off. */
  private async judgeConsole(node: SessionNode): Promise<void> {
    const name = node.vm.node.name
    if (this.judged.has(name)) return
    const text = plainConsole((await readIfExists(this.file(`${name}.serial.log`)))?.toString('latin1') ?? '')
    if (identityIn(text).prompt === name) {
      this.judged.set(name, 'login')
      this.ctx.log(`lab: ${name}: login prompt`)
      return
    }
    const fatal = fatalLine(text, node.vm.target.uefi !== undefined)
    if (!fatal) return
    this.judged.set(name, 'failed')
    const pid = Number.parseInt((await readIfExists(this.file(`${name}.qemu.pid`)))?.toString() ?? '', 10)
    this.ctx.log(`lab: ${name}: its boot failed (console: ${fatal}); the VM is stopped, its BMC reports it off`)
    if (pid > 0 && isAlive(pid)) await killAll([pid])
  }

  /** Stops the VMs, BMCs and servers and deletes the namespace; the logs stay when asked (or when `failed`). */
  async stop(passed = true): Promise<void> {
    this.stopped = true
    await this.loop?.catch(() => undefined)
    const pids = await Promise.all(this.nodes.map(async (n) => Number.parseInt((await readIfExists(this.file(`${n.vm.node.name}.qemu.pid`)))?.toString() ?? '', 10)))
    await killAll(pids.filter((p) => p > 0 && isAlive(p)))
    await this.lab.teardown(this.nodes.map((n) => n.vm), {passed, accel: this.options.accel, seconds: 0, nodes: []})
  }

  /** The serial console of a node's current boot, escapes removed. */
  async console(name: string): Promise<string> {
    return plainConsole((await readIfExists(this.file(`${name}.serial.log`)))?.toString('latin1') ?? '')
  }

  get runDir(): string {
    return path.resolve(this.lab.dir.path)
  }
}
