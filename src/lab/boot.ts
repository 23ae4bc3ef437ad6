import {promises as fs} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'

import {type Context} from '../base-command.js'
import {bootNodes} from '../apply/desired.js'
import {OWNED_PATHS} from '../apply/owned.js'
import {loadSite} from '../config/site-file.js'
import {type SiteModel} from '../config/site.js'
import {ExternalCommandError, PreconditionError, UserError} from '../errors.js'
import {assertValidInventory, loadInventory} from '../nodes/inventory.js'
import {BIOS_BOOT_FILE} from '../render/dhcpd.js'
import {type BootNode} from '../render/model.js'
import {PXELINUX_DIR, pxelinuxFileName} from '../render/pxelinux.js'
import {readIfExists} from '../system/files.js'
import {type Root} from '../system/paths.js'
import {type Daemon, startDaemon} from './daemon.js'
import {dhcpdIncludes, labDhcpdConfig, type LabHost} from './dhcpd.js'
import {labGaneshaConfig} from './ganesha.js'
import {
  type BootTarget, type Evidence, fatalLine, identityIn, leasesIn, MILESTONES, type MilestoneId, mountsIn,
  plainConsole, reachedMilestones, whyMissing,
} from './milestones.js'
import {createLabNamespace, labNamespaceName, type LabNamespace, reapStaleNamespaces} from './namespace.js'
import {PcapReader} from './pcap.js'
import {bootFilesOf, labPxelinux} from './pxelinux.js'
import {type Accel, labMac, pickAccel, qemuArgs} from './qemu.js'
import {FileTail, lastLines} from './tail.js'
import {TftpTracker} from './tftp.js'
import {type LabTools, requireLabTools} from './tools.js'

export interface LabBootOptions {
  nodes: readonly string[]
  /** Seconds the VMs get, from their start, to reach a login prompt. */
  timeout: number
  /** Copy every log, config and capture of the run here. */
  keepLogs?: string
  accel?: Accel
  memoryMiB?: number
}

export interface MilestoneResult {
  id: MilestoneId
  label: string
  /** Seconds after the VM started; absent when it was not reached. */
  seconds?: number
}

export interface LabNodeResult {
  name: string
  ip: string
  mac: string
  boundBy: 'mac' | 'ip'
  /** The pxelinux file the node must be found by, relative to the tftp root. */
  config: string
  passed: boolean
  milestones: MilestoneResult[]
  /** The first milestone not reached, and why. */
  missed?: string
  reason?: string
  hostname?: string
  machineId?: string
  seconds: number
  /** The serial console log, when it was kept. */
  serialLog?: string
}

export interface LabBootResult {
  passed: boolean
  accel: 'kvm' | 'tcg'
  seconds: number
  nodes: LabNodeResult[]
  /** Where the logs were kept, if anywhere. */
  logs?: string
}

const SERVICE_START_MS = 60_000
const POLL_MS = 1000
/** After the login prompt, how long to wait for the server logs to show the earlier steps. */
const SETTLE_MS = 5000

interface Vm {
  target: BootTarget
  node: BootNode
  boundBy: 'mac' | 'ip'
  serialLog: string
  capture: string
  qemu?: Daemon
  started: number
  reached: Map<MilestoneId, number>
  console: string
  serial: FileTail
  pcapTail: FileTail
  pcap: PcapReader
  tftp: TftpTracker
  loginAt?: number
  outcome?: {passed: boolean, reason?: string, at: number}
}

/**
 * Proves that nodes boot: PXE-boots each in a VM inside a sealed network namespace, against
 * the DHCP, TFTP and NFS configuration pxeroot generated, and follows each boot through its
 * milestones. Nothing is written into node roots or the real tftp tree; everything started is
 * bounded and ended by PID; the namespaces go away at the end, also on failure or Ctrl-C.
 */
export async function labBoot(ctx: Context, options: LabBootOptions): Promise<LabBootResult> {
  if (process.getuid?.() !== 0) throw new PreconditionError('pxeroot lab boot needs root (network namespaces, tap devices, mounts)', 'run it with sudo')
  if (options.nodes.length === 0) throw new UserError('name the nodes to boot, e.g. "pxeroot lab boot node01 node02"')
  if (!Number.isFinite(options.timeout) || options.timeout < 10) throw new UserError('--timeout: must be at least 10 seconds')
  const site = await loadSite(ctx.root)
  const inventory = await loadInventory(ctx.root)
  assertValidInventory(site, inventory)
  const all = await bootNodes(ctx.root, site, inventory)
  const nodes = [...new Set(options.nodes)].map((name) => {
    const node = all.find((n) => n.name === name)
    if (!node) throw new UserError(`node "${name}" is not in the inventory; known nodes: ${all.map((n) => n.name).join(', ') || 'none'}`)
    return node
  })
  for (const node of nodes) {
    const stat = await fs.stat(ctx.root.resolve(node.rootPath)).catch(() => undefined)
    if (!stat?.isDirectory()) throw new PreconditionError(`${node.name} has no root at ${node.rootPath}`, `run "pxeroot nodes clone" first`)
  }
  const main = await readIfExists(ctx.root.resolve(OWNED_PATHS.dhcpMain))
  if (!main) throw new PreconditionError(`no dhcpd configuration at ${OWNED_PATHS.dhcpMain}`, 'run "pxeroot apply" first')
  const included = new Map<string, string>()
  for (const file of dhcpdIncludes(main.toString('utf8'))) {
    const text = await readIfExists(ctx.root.resolve(file))
    if (text) included.set(file, text.toString('utf8'))
  }
  const tools = await requireLabTools()
  const accel = await pickAccel(options.accel ?? 'auto')

  const taken = new Set(all.flatMap((n) => (n.mac ? [n.mac] : [])))
  const vms: Vm[] = nodes.map((node) => {
    const mac = node.mac ?? labMac(node.ip, taken)
    taken.add(mac)
    return {
      node,
      boundBy: node.mac ? 'mac' : 'ip',
      target: {
        name: node.name, ip: node.ip, mac, rootPath: node.rootPath, loader: BIOS_BOOT_FILE,
        config: `${PXELINUX_DIR}/${pxelinuxFileName(node)}`, kernel: node.kernel, initrd: node.initrd,
      },
    } as Vm
  })
  const hosts: LabHost[] = vms.filter((vm) => vm.boundBy === 'ip').map((vm) => ({name: vm.node.name, mac: vm.target.mac, ip: vm.node.ip}))
  const dhcpdConf = labDhcpdConfig(main.toString('utf8'), included, hosts)

  await reapStaleNamespaces(ctx.runner)
  const first = await runLab(ctx, site, tools, accel, options, vms, dhcpdConf)
  // Some hosts offer a /dev/kvm whose guests reset in the firmware (nested virtualisation): every
  // VM stops before it even asks for an address. That says nothing about the nodes; TCG does.
  if (accel === 'kvm' && (options.accel ?? 'auto') === 'auto' && first.nodes.every((n) => !n.passed && n.milestones.every((m) => m.seconds === undefined) && /the VM stopped/.test(n.reason ?? ''))) {
    ctx.log('lab: the VMs reset under KVM before their first DHCP request; running again under TCG')
    return runLab(ctx, site, tools, 'tcg', options, vms.map((vm) => ({node: vm.node, boundBy: vm.boundBy, target: vm.target}) as Vm), dhcpdConf)
  }
  return first
}

async function runLab(ctx: Context, site: SiteModel, tools: LabTools, accel: 'kvm' | 'tcg', options: LabBootOptions, vms: Vm[], dhcpdConf: string): Promise<LabBootResult> {
  const runDir = await fs.mkdtemp(path.join(os.tmpdir(), 'pxeroot-lab-'))
  const lab = new LabRun(ctx, site, tools, runDir, accel, options)
  let result: LabBootResult | undefined
  let failure: unknown
  try {
    result = await lab.run(vms, dhcpdConf)
  } catch (error) {
    failure = error
  }
  await lab.teardown(vms, result)
  // Ctrl-C reaches the servers and VMs too (one process group), so what failed first may be a
  // server that died of the same SIGINT: the interruption is the news.
  if (ctx.signal.aborted) throw ctx.signal.reason
  if (failure !== undefined) throw failure
  return result!
}

class LabRun {
  private ns?: LabNamespace
  /** The server-side evidence as last read, for the report. */
  private last: Pick<Evidence, 'leases' | 'mounts'> = {leases: [], mounts: []}
  private services: Daemon[] = []
  private readonly file: (name: string) => string

  constructor(
    private readonly ctx: Context,
    private readonly site: SiteModel,
    private readonly tools: LabTools,
    private readonly runDir: string,
    private readonly accel: 'kvm' | 'tcg',
    private readonly options: LabBootOptions,
  ) {
    this.file = (name) => path.join(runDir, name)
  }

  private get root(): Root {
    return this.ctx.root
  }

  /** Every process is bounded by the whole run's worst case, whatever else fails to stop it. */
  private get boundMs(): number {
    return (this.options.timeout + 300) * 1000
  }

  async run(vms: Vm[], dhcpdConf: string): Promise<LabBootResult> {
    const {ctx, site} = this
    const t0 = Date.now()
    const ns = await createLabNamespace(ctx.runner, {name: labNamespaceName(), serverCidr: `${site.server}/${site.net.prefixLength}`, runDir: this.runDir})
    this.ns = ns
    ctx.log(`lab: network namespace ${ns.name}, server ${site.server} on ${ns.bridge}`)

    await this.startNfs(vms)
    await this.startDhcp(dhcpdConf)
    await this.startTftp(vms)
    ctx.log(`lab: dhcpd, tftpd, rpcbind and NFS-Ganesha up in ${((Date.now() - t0) / 1000).toFixed(1)} s; booting ${vms.map((v) => v.node.name).join(', ')} (${this.accel.toUpperCase()})`)

    for (const [i, vm] of vms.entries()) {
      const tap = `lab${i}`
      await ns.addTap(tap)
      Object.assign(vm, {
        serialLog: this.file(`${vm.node.name}.serial.log`),
        capture: this.file(`${vm.node.name}.pcap`),
        reached: new Map(),
        console: '',
        pcap: new PcapReader(),
        tftp: new TftpTracker(site.server),
      })
      vm.serial = new FileTail(vm.serialLog)
      vm.pcapTail = new FileTail(vm.capture)
      const args = qemuArgs({name: vm.node.name, mac: vm.target.mac, tap, serialLog: vm.serialLog, capture: vm.capture, memoryMiB: this.options.memoryMiB ?? 512, accel: this.accel})
      const [cmd, argv] = ns.inNet(this.tools['qemu-system-x86_64'], args)
      vm.started = Date.now()
      vm.qemu = startDaemon(ctx.runner, {name: `qemu ${vm.node.name}`, command: cmd, args: argv, log: this.file(`${vm.node.name}.qemu.log`), timeoutMs: this.boundMs})
    }

    await this.follow(vms)
    return {
      passed: vms.every((vm) => vm.outcome?.passed),
      accel: this.accel,
      seconds: (Date.now() - t0) / 1000,
      nodes: vms.map((vm) => this.nodeResult(vm)),
    }
  }

  private daemon(name: string, command: string, args: string[], log: string): Daemon {
    const [cmd, argv] = this.ns!.inLab(command, args)
    const d = startDaemon(this.ctx.runner, {name, command: cmd, args: argv, log, timeoutMs: this.boundMs})
    this.services.push(d)
    return d
  }

  /** Waits until test() holds, the service dies (error with its log), or the bound passes. */
  private async until(d: Daemon, what: string, test: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + SERVICE_START_MS
    for (;;) {
      this.ctx.signal.throwIfAborted()
      if (await test()) return
      if (d.ended || Date.now() > deadline) {
        const log = (await readIfExists(d.log))?.toString('utf8') ?? ''
        throw new ExternalCommandError(d.name, [], d.ended?.code, lastLines(log), `${d.name} ${d.ended ? 'stopped' : 'did not come up'} before ${what}: ${lastLines(log) || d.ended?.error || 'no output'}`)
      }
      await sleep(200)
    }
  }

  private async startNfs(vms: Vm[]): Promise<void> {
    const recovery = this.file('ganesha-recovery')
    await fs.mkdir(recovery, {recursive: true})
    const conf = this.file('ganesha.conf')
    await fs.writeFile(conf, labGaneshaConfig(this.site.server, recovery, vms.map((vm) => ({
      exportId: vm.node.exportId, rootPath: vm.node.rootPath, diskPath: this.root.resolve(vm.node.rootPath), client: vm.node.ip,
    }))))
    const rpcbind = this.daemon('rpcbind', this.tools.rpcbind, ['-f', '-w'], this.file('rpcbind.log'))
    const [probe, probeArgs] = this.ns!.inLab(this.tools.rpcinfo, ['-p'])
    await this.until(rpcbind, 'answering', async () => (await this.ctx.runner.run(probe, probeArgs, {reject: false, timeout: 5000})).exitCode === 0)
    const log = this.file('ganesha.log')
    const ganesha = this.daemon('NFS-Ganesha', this.tools['ganesha.nfsd'], ['-F', '-L', log, '-f', conf, '-p', this.file('ganesha.pid')], this.file('ganesha.out'))
    await this.until(ganesha, 'serving', async () => ((await readIfExists(log))?.toString('utf8') ?? '').includes('NFS SERVER INITIALIZED'))
  }

  private async startDhcp(conf: string): Promise<void> {
    const file = this.file('dhcpd.conf')
    await fs.writeFile(file, conf)
    const leases = this.file('dhcpd.leases')
    await fs.writeFile(leases, '')
    const check = await this.ctx.runner.run(this.tools.dhcpd, ['-t', '-4', '-cf', file], {reject: false, timeout: 30_000})
    if (check.exitCode !== 0) throw new UserError(`dhcpd rejects the lab's copy of the dhcpd configuration: ${lastLines(check.stderr, 4)}`)
    const log = this.file('dhcpd.log')
    const d = this.daemon('dhcpd', this.tools.dhcpd, ['-f', '-d', '-4', '-cf', file, '-lf', leases, '-pf', this.file('dhcpd.pid'), this.ns!.bridge], log)
    await this.until(d, 'serving', async () => ((await readIfExists(log))?.toString('utf8') ?? '').includes('Server starting service'))
  }

  /**
   * tftpd serves an overlay of the real tftp root: the lab's copies of the nodes' pxelinux
   * files (with the serial console added) sit in a private upper layer, so the real tree is
   * never written and everything else is served exactly as pxeroot generated it.
   */
  private async startTftp(vms: Vm[]): Promise<void> {
    const lower = this.root.resolve(this.site.paths.tftp)
    if (/[,:]/.test(lower)) throw new UserError(`the tftp root ${lower} contains "," or ":", which an overlay mount cannot take`)
    const upper = this.file('tftp-upper')
    const work = this.file('tftp-work')
    const merged = this.file('tftp')
    for (const dir of [upper, work, merged]) await fs.mkdir(dir, {recursive: true, mode: 0o755})
    for (const vm of vms) {
      const real = await readIfExists(path.join(lower, vm.target.config))
      // No file, no copy: the boot must fail where a real node would.
      if (!real) continue
      const files = bootFilesOf(real.toString('utf8'))
      vm.target.kernel = files.kernel ?? vm.target.kernel
      vm.target.initrd = files.initrd ?? vm.target.initrd
      const copy = path.join(upper, vm.target.config)
      await fs.mkdir(path.dirname(copy), {recursive: true, mode: 0o755})
      await fs.writeFile(copy, labPxelinux(real.toString('utf8')), {mode: 0o644})
      await fs.chmod(copy, 0o644)
    }
    const [cmd, args] = this.ns!.inLab('mount', ['-t', 'overlay', 'pxeroot-lab-tftp', '-o', `lowerdir=${lower},upperdir=${upper},workdir=${work}`, merged])
    await this.ctx.runner.run(cmd, args, {timeout: 20_000})
    const d = this.daemon('tftpd', this.tools['in.tftpd'], ['-L', '-v', '-v', '--secure', '--address', `${this.site.server}:69`, '--blocksize', '1468', merged], this.file('tftpd.log'))
    await sleep(300)
    await this.until(d, 'serving', async () => true)
  }

  /** Polls the consoles, captures and server logs until every VM has passed or failed. */
  private async follow(vms: Vm[]): Promise<void> {
    const {ctx} = this
    const dhcpd = new FileTail(this.file('dhcpd.log'))
    const ganesha = new FileTail(this.file('ganesha.log'))
    let dhcpdLog = ''
    let ganeshaLog = ''
    const deadline = Date.now() + this.options.timeout * 1000
    const stopping: Promise<void>[] = []
    for (;;) {
      ctx.signal.throwIfAborted()
      for (const s of this.services) {
        if (s.ended) throw new ExternalCommandError(s.name, [], s.ended.code, '', `${s.name} stopped during the lab run: ${lastLines((await readIfExists(s.log))?.toString('utf8') ?? '') || s.ended.error || 'no output'}`)
      }
      dhcpdLog += (await dhcpd.read()).toString('utf8')
      ganeshaLog += (await ganesha.read()).toString('latin1')
      const leases = leasesIn(dhcpdLog)
      const mounts = mountsIn(ganeshaLog)
      this.last = {leases, mounts}
      const now = Date.now()
      for (const vm of vms) {
        if (vm.outcome) continue
        vm.console += plainConsole((await vm.serial.read()).toString('latin1'))
        for (const d of vm.pcap.push(await vm.pcapTail.read())) vm.tftp.add(d)
        const evidence: Evidence = {leases, tftp: vm.tftp, mounts, console: vm.console}
        for (const id of reachedMilestones(vm.target, evidence)) {
          if (vm.reached.has(id)) continue
          vm.reached.set(id, (now - vm.started) / 1000)
          ctx.log(`lab: ${vm.node.name.padEnd(10)} ${(now - vm.started) / 1000 < 10 ? ' ' : ''}${((now - vm.started) / 1000).toFixed(1)} s  ${MILESTONES.find((m) => m.id === id)!.label}`)
        }
        const decide = (passed: boolean, reason?: string) => {
          vm.outcome = {passed, reason, at: now}
          ctx.log(`lab: ${vm.node.name.padEnd(10)} ${passed ? 'PASS' : `FAIL${reason ? `: ${reason}` : ''}`}`)
          stopping.push(vm.qemu!.stop())
        }
        const missing = MILESTONES.filter((m) => !vm.reached.has(m.id))
        if (missing.length === 0) decide(true)
        else if (vm.reached.has('login')) {
          vm.loginAt ??= now
          if (now - vm.loginAt > SETTLE_MS) decide(false)
        } else {
          const fatal = fatalLine(vm.console)
          if (fatal) decide(false, `console: ${fatal}`)
          else if (vm.qemu!.ended) decide(false, `the VM stopped${vm.qemu!.ended.error ? `: ${vm.qemu!.ended.error}` : ''}`)
          else if (now > deadline) decide(false, `timed out after ${this.options.timeout} s`)
        }
      }
      if (vms.every((vm) => vm.outcome)) break
      await sleep(POLL_MS)
    }
    await Promise.all(stopping)
  }

  private nodeResult(vm: Vm): LabNodeResult {
    const evidence: Evidence = {...this.last, tftp: vm.tftp, console: vm.console}
    const milestones = MILESTONES.map((m) => ({id: m.id, label: m.label, seconds: vm.reached.get(m.id)}))
    const first = milestones.find((m) => m.seconds === undefined)
    const identity = identityIn(vm.console)
    const why = first ? whyMissing(first.id, vm.target, evidence) : undefined
    return {
      name: vm.node.name,
      ip: vm.node.ip,
      mac: vm.target.mac,
      boundBy: vm.boundBy,
      config: vm.target.config,
      passed: vm.outcome?.passed === true,
      milestones,
      missed: first?.label,
      reason: [why, vm.outcome?.reason].filter(Boolean).join('; ') || undefined,
      hostname: identity.hostname,
      machineId: identity.machineId,
      seconds: ((vm.outcome?.at ?? Date.now()) - vm.started) / 1000,
    }
  }

  async teardown(vms: Vm[], result: LabBootResult | undefined): Promise<void> {
    const problems: string[] = []
    await Promise.all([...vms.map((vm) => vm.qemu?.stop()), ...this.services.map((s) => s.stop())])
    if (this.ns) problems.push(...await this.ns.destroy())
    for (const p of problems) this.ctx.log(`lab: cleanup: ${p}`)
    // An interrupted run proves nothing either way: keep logs only when asked to.
    if (this.ctx.signal.aborted && !this.options.keepLogs) await fs.rm(this.runDir, {recursive: true, force: true}).catch(() => undefined)
    else await this.keepLogs(vms, result)
  }

  /** --keep-logs copies everything; otherwise only a failed run keeps its logs (and no captures). */
  private async keepLogs(vms: Vm[], result: LabBootResult | undefined): Promise<void> {
    const logs = (await fs.readdir(this.runDir).catch(() => [] as string[])).filter((f) => /\.(log|conf|leases|out|pcap)$/.test(f))
    if (this.options.keepLogs) {
      const dir = path.resolve(this.options.keepLogs)
      await fs.mkdir(dir, {recursive: true})
      for (const f of logs) await fs.copyFile(path.join(this.runDir, f), path.join(dir, f))
      for (const vm of vms) {
        const copy = path.join(this.runDir, 'tftp-upper', vm.target.config)
        if (await readIfExists(copy)) await fs.copyFile(copy, path.join(dir, `${vm.node.name}.pxelinux.cfg`))
      }
    }
    const failed = !result || !result.passed
    if (failed && !this.options.keepLogs) {
      for (const entry of await fs.readdir(this.runDir).catch(() => [] as string[])) {
        if (!logs.includes(entry) || entry.endsWith('.pcap')) await fs.rm(path.join(this.runDir, entry), {recursive: true, force: true}).catch(() => undefined)
      }
    } else {
      await fs.rm(this.runDir, {recursive: true, force: true}).catch(() => undefined)
    }
    const kept = this.options.keepLogs ? path.resolve(this.options.keepLogs) : failed ? this.runDir : undefined
    if (result) {
      result.logs = kept
      for (const r of result.nodes) if (kept && (!r.passed || this.options.keepLogs)) r.serialLog = path.join(kept, `${r.name}.serial.log`)
    } else if (kept) {
      this.ctx.log(`lab: logs kept in ${kept}`)
    }
  }
}
