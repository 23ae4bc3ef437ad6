import {promises as fs} from 'node:fs'
import path from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'

import {type LabAck, type LabDaemon, type LabEnv} from '../backends/types.js'
import {type Firmware, type SiteModel} from '../config/site.js'
import {ExternalCommandError, UserError} from '../errors.js'
import {type BootNode} from '../boot/model.js'
import {type Context} from '../system/context.js'
import {startDaemon, type Daemon} from '../system/daemon.js'
import {readIfExists, type TempDir} from '../system/files.js'
import {qmpSendKeys} from '../system/qmp.js'
import {mountFs} from '../system/mounts.js'
import {createLabNamespace, type LabHost, labNamespaceName, type LabNamespace, NETNS_PREFIX} from '../system/netns.js'
import {removeTree} from '../system/trees.js'
import {type LiveSources, type LiveStatus} from '../status/live.js'
import {summaryLine} from '../status/node-status.js'
import {newProgress, type BootProgress} from './decide.js'
import {kernelInitrdSeconds} from './fetched.js'
import {addressesIn, type BootTarget, type Evidence, fetchSource, identityIn, milestonesOf, type MilestoneId, whyMissing} from './milestones.js'
import {labLoaderCopy, loaderCopySuffix} from './loader-overlay.js'
import {bindRootsInLab} from './root-binds.js'
import {qemuArgs} from './qemu.js'
import {type ClusterLink, joinCluster} from './rbd.js'
import {FileTail, lastLines} from './tail.js'
import {type LabTools, OVMF} from './tools.js'
import {type VmFeed, watchBoots, type WatchResult} from './watch.js'

export interface LabBootOptions {
  nodes: readonly string[]
  /** Seconds the VMs get, from their start, to reach a login prompt. */
  timeout: number
  /** Copy every log, config and capture of the run here. */
  keepLogs?: string
  accel?: 'auto' | 'kvm' | 'tcg'
  memoryMiB?: number
  /** The VMs' firmware: BIOS (pxelinux), or UEFI with Secure Boot enforced (shim + GRUB). Default bios. */
  firmware?: Firmware
  /** Proxy mode: the stand-in for the network's DHCP server also sends next-server = the site's server (what UEFI nodes need of a site's server). */
  networkNextServer?: boolean
  /** The network namespace of the Ceph cluster that nodes booting from RBD map their roots from (default: the site's). */
  cephNetns?: string
  /** Start each VM only once the one before it has reached its login prompt or failed (a second machine claiming a root the first holds). */
  oneAtATime?: boolean
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
  /** The loader file the node must be found by (pxelinux's or GRUB's), relative to the tftp root. */
  config: string
  passed: boolean
  milestones: MilestoneResult[]
  /** The first milestone not reached, and why. */
  missed?: string
  reason?: string
  hostname?: string
  machineId?: string
  /** What the node's two DHCP clients said they got, on its console: the PXE firmware and the initramfs. */
  addresses: {firmware?: string, initramfs?: string}
  /** Every address the DHCP server acknowledged to the VM's MAC, in order (firmware first, then the initramfs). */
  acks: string[]
  /** The booted node's /etc/resolv.conf, as it printed it. */
  nameservers: string[]
  search: string[]
  /** Seconds from the kernel's request to the initrd's last byte, and over what. */
  kernelInitrd?: {over: 'tftp' | 'http', seconds: number}
  seconds: number
  /** The serial console log, when it was kept. */
  serialLog?: string
  /** What the booted node's / is, from its mount table (/dev/rbd0, or the NFS export). */
  root?: {source: string, fstype: string}
  /** A node whose root is its RBD clone is shut down cleanly at the end of the run (its writes synced): whether it was, and how long it took. */
  shutdown?: {clean: boolean, seconds: number}
}

export interface LabBootResult {
  passed: boolean
  accel: 'kvm' | 'tcg'
  seconds: number
  nodes: LabNodeResult[]
  /** Where the logs were kept, if anywhere. */
  logs?: string
  /** `pxeroot status` of the site's nodes, read from the lab's own servers before they stopped, the passed VMs still running. */
  status?: LiveStatus
}

/** A node of the run: what it must boot, and its VM's binding. */
export interface LabVm {
  node: BootNode
  boundBy: 'mac' | 'ip'
  target: BootTarget
  /** The address of the server it must boot from, where the run has several (default: the run's). */
  server?: string
}

/** What the lab gives a server's lab hook for one run. */
export type LabRunEnv = Pick<LabEnv, 'runDir' | 'iface' | 'root' | 'server'>

/** How the run starts its servers (lab-boot binds the backends' lab hooks to the generated files). */
export interface LabServers {
  dhcp(env: LabRunEnv): LabDaemon
  nfs(env: LabRunEnv): LabDaemon
  /** Proxy mode: the network's own DHCP server, which the lab plays on another host of its network, at `address`. */
  router?: {address: string, daemon(env: LabRunEnv): LabDaemon}
  /** boot.transport http: the web server, serving the lab's overlay of the tftp root. */
  web?(env: LabRunEnv & {tftpRoot: string}): LabDaemon
  /** Every program these run, with the Debian package that has it. */
  programs: Record<string, string>
  /** `pxeroot status` of the site's nodes from these servers' records (lab-boot binds it to the site and inventory). */
  status?(sources: LiveSources): Promise<LiveStatus>
  /** The Ceph cluster the nodes that boot from RBD map their roots from: the run joins its bridge. */
  cluster?: ClusterLink
}

/** One run's outcome: each VM's progress, for the caller's decisions (retry under TCG) and the report. */
export interface LabRunOutcome {
  result: LabBootResult
  progress: BootProgress[]
}

const SERVICE_START_MS = 60_000
/** How long a node that boots from RBD gets to shut down cleanly (TCG: about 10 s). */
const SHUTDOWN_MS = 120_000
/** ctrl-alt-del: systemd's clean reboot (ctrlaltdel.target), which -no-reboot turns into the VM's end; it needs no logind or ACPI button handling in the image. */
const CTRL_ALT_DEL = ['ctrl', 'alt', 'delete']

/** One VM of the run: its boot as followed, its process once started, how it ended. */
interface RunVm {
  vm: LabVm
  progress: BootProgress
  qemu?: Daemon
  qmp?: string
  shutdown?: {clean: boolean, seconds: number}
  start(): void
}

/**
 * One lab run: a sealed network namespace with the servers and one VM per node, followed until
 * every boot passed or failed, then everything torn down by PID and the namespaces deleted,
 * also on failure or Ctrl-C. Nothing is written into node roots or the real tftp tree.
 */
export async function runLab(ctx: Context, site: SiteModel, tools: LabTools, accel: 'kvm' | 'tcg', options: LabBootOptions, vms: LabVm[], servers: LabServers): Promise<LabRunOutcome> {
  const dir = await ctx.files.tempDir(`${NETNS_PREFIX}${process.pid}-`)
  const lab = new LabRun(ctx, site, tools, dir, accel, options)
  let outcome: LabRunOutcome | undefined
  let failure: unknown
  try {
    outcome = await lab.run(vms, servers)
  } catch (error) {
    failure = error
  }
  await lab.teardown(vms, outcome?.result)
  // Ctrl-C reaches the servers and VMs too (one process group), so what failed first may be a
  // server that died of the same SIGINT: the interruption is the news.
  if (ctx.signal.aborted) throw ctx.signal.reason
  if (failure !== undefined) throw failure
  return outcome!
}

/** The servers a run started, as their lab hooks describe them (their logs, lease files...). */
export interface LabServersUp {
  nfs: LabDaemon
  dhcp: LabDaemon
  router?: LabDaemon
  web?: LabDaemon
}

/** One lab run's namespace, servers and VMs (runLab boots VMs in it; a lab session keeps it up for BMCs to power VMs). */
export class LabRun {
  private ns?: LabNamespace
  private services: Daemon[] = []
  private runVms: RunVm[] = []
  private up?: LabServersUp
  private joinedCluster = false

  constructor(
    private readonly ctx: Context,
    private readonly site: SiteModel,
    readonly tools: LabTools,
    readonly dir: TempDir,
    private readonly accel: 'kvm' | 'tcg',
    private readonly options: LabBootOptions,
    /** Another run's network to join as one more of its servers (lab/pair.ts), instead of a sealed network of its own. */
    private readonly join?: (runDir: string) => Promise<LabNamespace>,
  ) {}

  /** Every process is bounded by the whole run's worst case, whatever else fails to stop it. */
  get boundMs(): number {
    return (this.options.timeout + 300) * 1000
  }

  /** The lab's network namespace, created once (a lab session also starts its BMCs there). */
  async open(): Promise<LabNamespace> {
    if (this.ns) return this.ns
    const {ctx, site} = this
    const ns = this.join ? await this.join(this.dir.path) : await createLabNamespace(ctx.runner, {name: labNamespaceName(), serverCidr: `${site.server}/${site.net.prefixLength}`, runDir: this.dir.path})
    this.ns = ns
    ctx.log(`lab: network namespace ${ns.name}, server ${site.server} on ${ns.bridge}`)
    // Servers that drop root (dnsmasq, lighttpd) read and write here too.
    await ctx.files.chmod(this.dir.path, 0o755)
    return ns
  }

  /** The site's servers in the namespace, each serving before the next starts. */
  async startServers(vms: LabVm[], servers: LabServers): Promise<LabServersUp> {
    const {ctx, site} = this
    const t0 = Date.now()
    const ns = await this.open()
    const env: LabRunEnv = {runDir: this.dir.path, iface: ns.bridge, root: ctx.root, server: site.server}
    // Roots NFS-Ganesha can only export as mount points (btrfs snapshots) are bound onto themselves
    // in the lab's mount namespace, as apply binds them on a real server.
    for (const root of await bindRootsInLab(ctx, vms.map((vm) => vm.node).filter((n) => n.exportedHere), ns.enterMounts)) ctx.log(`lab: ${root} bound onto itself for NFS-Ganesha (a btrfs subvolume)`)
    const nfs = await this.startNfs(servers.nfs(env))
    const router = servers.router ? await this.startRouter(servers.router, env) : undefined
    const dhcp = await this.startServer(servers.dhcp(env))
    await this.startTftp(vms)
    const web = servers.web ? await this.startServer(servers.web({...env, tftpRoot: this.dir.file('tftp')})) : undefined
    ctx.log(`lab: ${this.services.map((d) => d.name).join(', ')} up in ${((Date.now() - t0) / 1000).toFixed(1)} s`)
    this.up = {nfs, dhcp, ...(router ? {router} : {}), ...(web ? {web} : {})}
    return this.up
  }

  async run(vms: LabVm[], servers: LabServers): Promise<LabRunOutcome> {
    const t0 = Date.now()
    await this.startServers(vms, servers)
    this.ctx.log(`lab: booting ${vms.map((v) => v.node.name).join(', ')} (${this.accel.toUpperCase()})`)
    return this.boot(vms, servers, [], t0)
  }

  /**
   * One VM per node on this run's network, followed until each passed or failed. `peers`: other
   * servers on the same network (lab/pair.ts), whose records count as this run's own.
   */
  async boot(vms: LabVm[], servers: LabServers, peers: readonly LabRun[] = [], t0 = Date.now()): Promise<LabRunOutcome> {
    const {ctx, site} = this
    const ns = this.ns!
    const runs = [this, ...peers]
    if (servers.cluster && !this.joinedCluster) {
      await joinCluster(ctx.runner, {namespace: ns.name, bridge: ns.bridge}, servers.cluster)
      this.joinedCluster = true
      ctx.log(`lab: joined the cluster's network (${servers.cluster.namespace}, bridge ${servers.cluster.bridge}): ${vms.filter((v) => v.target.rbd).map((v) => `${v.node.name} maps ${v.target.rbd!.name}`).join(', ')}`)
    }
    const feeds: VmFeed[] = []
    const first = this.runVms.length
    for (const vm of vms) {
      // A run may boot VMs more than once (lab/pair.ts): each has a tap of its own.
      const tap = `lab${this.runVms.length}`
      await ns.addTap(tap)
      const serialLog = this.dir.file(`${vm.node.name}.serial.log`)
      const capture = this.dir.file(`${vm.node.name}.pcap`)
      // Each UEFI VM starts from the firmware's own variables (Microsoft's keys enrolled, Secure Boot on), in a copy of its own.
      const uefi = vm.target.uefi ? {code: OVMF.code, vars: this.dir.file(`${vm.node.name}.vars.fd`)} : undefined
      if (uefi) await ctx.files.copy(OVMF.vars, uefi.vars, 0o600)
      const qmp = vm.target.rbd ? this.dir.file(`${vm.node.name}.qmp`) : undefined
      const args = qemuArgs({name: vm.node.name, mac: vm.target.mac, tap, serialLog, capture, memoryMiB: this.options.memoryMiB ?? 512, accel: this.accel, uefi, qmp})
      const [cmd, argv] = ns.inNet(this.tools['qemu-system-x86_64'], args)
      const run: RunVm = {
        vm,
        qmp,
        progress: newProgress(vm.target, Date.now()),
        start: () => {
          run.progress.started = Date.now()
          run.qemu = startDaemon(ctx.runner, {name: `qemu ${vm.node.name}`, command: cmd, args: argv, log: this.dir.file(`${vm.node.name}.qemu.log`), timeoutMs: this.boundMs, run: ns.name})
        },
      }
      if (!this.options.oneAtATime || this.runVms.length === first) run.start()
      this.runVms.push(run)
      const serial = new FileTail(serialLog)
      const pcap = new FileTail(capture)
      feeds.push({progress: run.progress, console: () => serial.read(), capture: () => pcap.read(), ended: () => run.qemu?.ended, stop: () => this.powerOff(run), started: () => run.qemu !== undefined, ...(vm.server ? {server: vm.server} : {})})
    }

    const up = runs.map((r) => r.up!)
    const leases = up.map((u) => logReader(u.router ?? u.dhcp, (spec) => spec.log, (spec, text) => spec.acks?.(text) ?? []))
    const fetches = up.flatMap((u) => (u.web?.access ? [logReader(u.web, (spec) => spec.access!.log, (spec, text) => spec.access!.fetches(text))] : []))
    const ganesha = up.map((u) => new FileTail(u.nfs.log))
    const seen = await watchBoots(feeds, {
      leases: async () => (await Promise.all(leases.map((read) => read()))).flat(),
      ...(fetches.length > 0 ? {fetches: async () => (await Promise.all(fetches.map((read) => read()))).flat()} : {}),
      nfsLog: async () => (await Promise.all(ganesha.map((g) => g.read()))).map((b) => b.toString('latin1')).join(''),
      failed: async () => {
        const s = runs.flatMap((r) => r.services).find((d) => d.ended)
        if (!s) return undefined
        return {name: s.name, code: s.ended!.code, why: lastLines((await readIfExists(s.log))?.toString('utf8') ?? '') || s.ended!.error || 'no output'}
      },
    }, {server: site.server, timeoutMs: this.options.timeout * 1000, signal: ctx.signal, log: ctx.log, beforePoll: async () => this.startNext()})
    const progress = feeds.map((f) => f.progress)
    const status = servers.status ? await this.status(servers.status, this.up!.dhcp) : undefined
    return {
      progress,
      result: {
        passed: progress.every((p) => p.outcome?.passed),
        accel: this.accel,
        seconds: (Date.now() - t0) / 1000,
        nodes: vms.map((vm, i) => nodeResult(vm, progress[i], seen, i)),
        ...(status ? {status} : {}),
      },
    }
  }

  /** Stops this run's servers by PID (a server lost: lab/pair.ts), leaving its VMs and network up. */
  async stopServers(): Promise<void> {
    const stopping = this.services
    this.services = []
    await Promise.all(stopping.map((s) => s.stop()))
  }

  /** Every address its DHCP server (in proxy mode: the network's) acknowledged so far, from its log. */
  async dhcpAcks(): Promise<LabAck[]> {
    const spec = this.up?.router ?? this.up?.dhcp
    const text = spec ? (await readIfExists(spec.log))?.toString('utf8') : undefined
    return text && spec?.acks ? spec.acks(text) : []
  }

  /** Its DHCP server's lease database in the run directory (what `pxeroot status` reads). */
  get dhcpLeaseFile(): string | undefined {
    return this.up?.dhcp.leaseFile
  }

  /** Whether the VM of that node still runs. */
  vmRunning(node: string): boolean {
    const vm = this.runVms.find((r) => r.vm.node.name === node && r.qemu)?.qemu
    return vm !== undefined && !vm.ended
  }

  /** The network this run made or joined (once open). */
  get network(): LabNamespace | undefined {
    return this.ns
  }

  /** argv that runs a command where this run's servers run. */
  inServerNet(command: string, args: readonly string[]): [string, string[]] {
    return this.ns!.inNet(command, args)
  }

  /**
   * What `pxeroot status` says of the lab's cluster, read as on a server: the DHCP server's lease
   * file, the socket table of the namespace NFS-Ganesha serves in. A status that cannot be read is
   * logged, not fatal: the boots decided the run.
   */
  private async status(read: NonNullable<LabServers['status']>, dhcp: LabDaemon): Promise<LiveStatus | undefined> {
    const sources: LiveSources = {
      leases: async () => {
        const text = dhcp.leaseFile ? await readIfExists(dhcp.leaseFile) : undefined
        return text && dhcp.leaseFile ? [{file: dhcp.leaseFile, text: text.toString('utf8')}] : []
      },
      sockets: () => Promise.all(['/proc/net/tcp', '/proc/net/tcp6'].map(async (table) => {
        const [cmd, args] = this.ns!.inNet('cat', [table])
        return (await this.ctx.runner.run(cmd, args, {timeout: 10_000})).stdout
      })),
      fetchLogs: async () => [],
    }
    try {
      const status = await read(sources)
      this.ctx.log(`lab: status before teardown: ${summaryLine(status.summary)}`)
      return status
    } catch (error) {
      this.ctx.log(`lab: status could not be read: ${(error as Error).message}`)
      return undefined
    }
  }

  /** Starts a process of the run in the lab (network and mount namespaces), bounded, stopped at teardown. */
  daemon(name: string, command: string, args: string[], log: string, options: {env?: Record<string, string>, enter?: LabHost['inHost']} = {}): Daemon {
    const [cmd, argv] = (options.enter ?? this.ns!.inLab)(command, args)
    const d = startDaemon(this.ctx.runner, {name, command: cmd, args: argv, log, timeoutMs: this.boundMs, run: this.ns!.name, env: options.env})
    this.services.push(d)
    return d
  }

  /** Waits until test() holds, the service dies (error with its log), or the bound passes. */
  async until(d: Daemon, what: string, test: () => Promise<boolean>, logFile = d.log): Promise<void> {
    const deadline = Date.now() + SERVICE_START_MS
    for (;;) {
      this.ctx.signal.throwIfAborted()
      if (await test()) return
      if (d.ended || Date.now() > deadline) {
        const log = (await readIfExists(logFile))?.toString('utf8') ?? ''
        throw new ExternalCommandError(d.name, [], d.ended?.code, lastLines(log), `${d.name} ${d.ended ? 'stopped' : 'did not come up'} before ${what}: ${lastLines(log) || d.ended?.error || 'no output'}`)
      }
      await sleep(200)
    }
  }

  private logContains(file: string, text: string): () => Promise<boolean> {
    return async () => ((await readIfExists(file))?.toString('latin1') ?? '').includes(text)
  }

  /** NFSv3 needs rpcbind in the lab first (MOUNT and NFS register with it). */
  private async startNfs(spec: LabDaemon): Promise<LabDaemon> {
    const rpcbind = this.daemon('rpcbind', this.tools.rpcbind, ['-f', '-w'], this.dir.file('rpcbind.log'))
    const [probe, probeArgs] = this.ns!.inLab(this.tools.rpcinfo, ['-p'])
    await this.until(rpcbind, 'answering', async () => (await this.ctx.runner.run(probe, probeArgs, {reject: false, timeout: 5000})).exitCode === 0)
    return this.startServer(spec, spec.program === 'ganesha.nfsd' ? 'NFS-Ganesha' : spec.program)
  }

  /** Proxy mode: the network's own DHCP server, on a host of its own beside the lab's server. */
  private async startRouter(router: NonNullable<LabServers['router']>, env: LabRunEnv): Promise<LabDaemon> {
    const host = await this.ns!.addHost('router', `${router.address}/${this.site.net.prefixLength}`)
    this.ctx.log(`lab: ${router.address} plays the network's own DHCP server (addresses only), beside ${this.site.server}`)
    return this.startServer(router.daemon({...env, iface: host.iface, server: router.address}), 'the network\'s DHCP server', host.inHost)
  }

  /** A server as its backend's lab hook describes it: its files in the run directory, then the daemon until it serves. */
  private async startServer(spec: LabDaemon, name = spec.program, enter?: LabHost['inHost']): Promise<LabDaemon> {
    const program = (this.tools as Record<string, string>)[spec.program]
    if (!program) throw new Error(`internal: the lab has no tool ${spec.program}`)
    for (const dir of spec.dirs ?? []) await this.dir.mkdir(dir)
    for (const f of spec.files) await this.dir.write(f.name, f.content, f.mode)
    const out = spec.logsItself ? this.dir.file(`${path.basename(spec.log, '.log')}.out`) : spec.log
    const d = this.daemon(name, program, spec.args, out, {env: spec.env, enter})
    await this.until(d, 'serving', this.logContains(spec.log, spec.ready), spec.log)
    return spec
  }

  /**
   * The lab's copy of a node's loader file, in the overlay's upper layer, from the real file as it
   * is now (a lab session calls it again before each power-on: apply may have rewritten it). It is
   * written in place, as tftpd and the web server read it through the mounted overlay.
   */
  async writeLoaderCopy(vm: LabVm): Promise<void> {
    const lower = this.ctx.root.resolve(this.site.paths.tftp)
    const real = await readIfExists(path.join(lower, vm.target.config))
    // No file, no copy: the boot must fail where a real node would.
    if (!real) return
    const copy = labLoaderCopy(vm.target, real.toString('utf8'))
    vm.target.kernel = copy.kernel ?? vm.target.kernel
    vm.target.initrd = copy.initrd ?? vm.target.initrd
    const written = await this.dir.write(path.join('tftp-upper', vm.target.config), copy.text, 0o644)
    if (vm.target.transport === 'http') vm.target.sizes = await fileSizes([written, ...[vm.target.loader, vm.target.kernel, vm.target.initrd].map((f) => path.join(lower, f))], [vm.target.config, vm.target.loader, vm.target.kernel, vm.target.initrd])
  }

  /**
   * tftpd serves an overlay of the real tftp root: the lab's copies of the nodes' pxelinux or
   * GRUB files (with the serial console added) sit in a private upper layer, so the real tree is
   * never written and everything else is served exactly as pxeroot generated it.
   */
  private async startTftp(vms: LabVm[]): Promise<void> {
    const lower = this.ctx.root.resolve(this.site.paths.tftp)
    if (/[,:]/.test(lower)) throw new UserError(`the tftp root ${lower} contains "," or ":", which an overlay mount cannot take`)
    const upper = await this.dir.mkdir('tftp-upper')
    const work = await this.dir.mkdir('tftp-work')
    const merged = await this.dir.mkdir('tftp')
    for (const vm of vms) await this.writeLoaderCopy(vm)
    await mountFs(this.ctx.runner, 'overlay', 'pxeroot-lab-tftp', merged, `lowerdir=${lower},upperdir=${upper},workdir=${work}`, {enter: this.ns!.enterMounts})
    const d = this.daemon('tftpd', this.tools['in.tftpd'], ['-L', '-v', '-v', '--secure', '--address', `${this.site.server}:69`, '--blocksize', '1468', merged], this.dir.file('tftpd.log'))
    await sleep(300)
    await this.until(d, 'serving', async () => true)
  }

  /** One at a time: starts the first waiting VM once the one before it has reached its login prompt or failed. */
  private startNext(): void {
    const next = this.runVms.findIndex((r) => !r.qemu)
    if (next <= 0) return
    const before = this.runVms[next - 1].progress
    if (before.outcome || before.reached.has('login')) {
      this.ctx.log(`lab: starting ${this.runVms[next].vm.node.name} (one at a time)`)
      this.runVms[next].start()
    }
  }

  /**
   * Ends a VM. A node that mounted its RBD clone as / is shut down cleanly, as its operator would:
   * systemd stops its services and remounts / read-only, so what it wrote is in the cluster (killed,
   * it would lose what it had not synced). Its exclusive lock stays with its gone client until the
   * watch expires (about 30 s); the next machine to map the root breaks it then. Any other VM, or
   * one that does not go within SHUTDOWN_MS, is stopped.
   */
  private async powerOff(run: RunVm): Promise<void> {
    const {qemu} = run
    if (!qemu || qemu.ended) return
    if (run.qmp && run.progress.reached.has('rbdroot')) {
      const t = Date.now()
      if (await qmpSendKeys(run.qmp, CTRL_ALT_DEL)) {
        const ended = await Promise.race([qemu.done.then(() => true), sleep(SHUTDOWN_MS, false, {ref: false})])
        run.shutdown = {clean: ended, seconds: (Date.now() - t) / 1000}
        this.ctx.log(`lab: ${run.vm.node.name} ${ended ? `shut down cleanly in ${run.shutdown.seconds.toFixed(1)} s` : `did not shut down within ${SHUTDOWN_MS / 1000} s: stopped`}`)
      } else {
        run.shutdown = {clean: false, seconds: (Date.now() - t) / 1000}
      }
    }
    await qemu.stop()
  }

  async teardown(vms: readonly LabVm[], result: LabBootResult | undefined): Promise<void> {
    const problems: string[] = []
    // The VMs first, while the servers and the cluster's network they need to shut down are up.
    await Promise.all(this.runVms.map((r) => this.powerOff(r)))
    for (const r of this.runVms) {
      const node = result?.nodes.find((n) => n.name === r.vm.node.name)
      if (r.shutdown && node) node.shutdown = r.shutdown
    }
    await Promise.all(this.services.map((s) => s.stop()))
    if (this.ns) problems.push(...await this.ns.destroy())
    for (const p of problems) this.ctx.log(`lab: cleanup: ${p}`)
    // An interrupted run proves nothing either way: keep logs only when asked to.
    if (this.ctx.signal.aborted && !this.options.keepLogs) await this.dir.remove().catch(() => undefined)
    else await this.keepLogs(vms, result)
  }

  /** --keep-logs copies everything; otherwise only a failed run keeps its logs (and no captures). */
  private async keepLogs(vms: readonly LabVm[], result: LabBootResult | undefined): Promise<void> {
    const {files} = this.ctx
    const logs = (await fs.readdir(this.dir.path).catch(() => [] as string[])).filter((f) => /\.(log|conf|leases|csv|out|pcap)$/.test(f))
    if (this.options.keepLogs) {
      const dir = path.resolve(this.options.keepLogs)
      await files.mkdir(dir)
      for (const f of logs) await files.copy(this.dir.file(f), path.join(dir, f))
      for (const vm of vms) {
        const copy = this.dir.file(path.join('tftp-upper', vm.target.config))
        if (await readIfExists(copy)) await files.copy(copy, path.join(dir, `${vm.node.name}.${loaderCopySuffix(vm.target)}`))
      }
    }
    const failed = !result || !result.passed
    if (failed && !this.options.keepLogs) {
      for (const entry of await fs.readdir(this.dir.path).catch(() => [] as string[])) {
        if (!logs.includes(entry) || entry.endsWith('.pcap')) await removeTree(this.ctx.runner, this.dir.file(entry), {mounts: 'unmount'}).catch(() => undefined)
      }
    } else {
      await this.dir.remove().catch(() => undefined)
    }
    const kept = this.options.keepLogs ? path.resolve(this.options.keepLogs) : failed ? this.dir.path : undefined
    if (result) {
      result.logs = kept
      for (const r of result.nodes) if (kept && (!r.passed || this.options.keepLogs)) r.serialLog = path.join(kept, `${r.name}.serial.log`)
    } else if (kept) {
      this.ctx.log(`lab: logs kept in ${kept}`)
    }
  }
}

/** Follows a server's log from its start: every call parses all of it so far. */
function logReader<T>(spec: LabDaemon, file: (spec: LabDaemon) => string, parse: (spec: LabDaemon, text: string) => T[]): () => Promise<T[]> {
  const tail = new FileTail(file(spec))
  let text = ''
  return async () => {
    text += (await tail.read()).toString('utf8')
    return parse(spec, text)
  }
}

/** The sizes of files on disk by the names given, those that exist. */
async function fileSizes(disk: readonly string[], names: readonly string[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {}
  for (const [i, file] of disk.entries()) {
    const st = await fs.stat(file).catch(() => undefined)
    if (st) out[names[i]] = st.size
  }
  return out
}

function nodeResult(vm: LabVm, p: BootProgress, seen: WatchResult, i: number): LabNodeResult {
  const evidence = {leases: seen.leases, http: seen.http, mounts: seen.mounts, tftp: seen.tftp[i], console: seen.consoles[i]}
  const milestones = milestonesOf(vm.target).map((m) => ({id: m.id, label: m.label, seconds: p.reached.get(m.id)}))
  const first = milestones.find((m) => m.seconds === undefined)
  const identity = identityIn(seen.consoles[i])
  const addresses = addressesIn(seen.consoles[i])
  const why = first ? whyMissing(first.id, vm.target, evidence) : undefined
  return {
    name: vm.node.name,
    ip: vm.node.ip,
    mac: vm.target.mac,
    boundBy: vm.boundBy,
    config: vm.target.config,
    passed: p.outcome?.passed === true,
    milestones,
    missed: first?.label,
    reason: [why, p.outcome?.reason].filter(Boolean).join('; ') || undefined,
    hostname: identity.hostname,
    machineId: identity.machineId,
    ...(identity.root ? {root: identity.root} : {}),
    addresses: {firmware: addresses.firmware, initramfs: addresses.initramfs},
    acks: seen.leases.filter((l) => l.mac === vm.target.mac).map((l) => l.ip),
    nameservers: identity.nameservers,
    search: identity.search,
    ...transfer(vm.target, evidence),
    seconds: ((p.outcome?.at ?? Date.now()) - p.started) / 1000,
  }
}

function transfer(target: BootTarget, evidence: Evidence): Pick<LabNodeResult, 'kernelInitrd'> {
  const seconds = kernelInitrdSeconds(fetchSource(target, evidence), target.kernel, target.initrd)
  return seconds === undefined ? {} : {kernelInitrd: {over: target.transport ?? 'tftp', seconds}}
}
