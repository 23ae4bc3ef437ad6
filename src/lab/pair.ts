import {setTimeout as sleep} from 'node:timers/promises'

import {parseKeaLeases, type Lease} from '../backends/dhcp/leases.js'
import {inRange, numberToIp} from '../config/address.js'
import {type SiteModel} from '../config/site.js'
import {fetchHaState, type KeaHaState, type ServerView} from '../servers/probe.js'
import {type Context} from '../system/context.js'
import {type Root} from '../system/paths.js'
import {readIfExists} from '../system/files.js'
import {announceAddress} from '../system/host.js'
import {deleteAddress, joinLabAsServer, NETNS_PREFIX} from '../system/netns.js'
import {type RunOptions, type Runner} from '../system/runner.js'
import {plainConsole} from './milestones.js'
import {LabRun, type LabBootOptions, type LabBootResult, type LabNodeResult, type LabServers, type LabVm} from './run.js'
import {type LabTools} from './tools.js'

/**
 * A site's two boot servers in one lab (README "The lab", failover): the primary on the lab's
 * own network, the standby on a host of its own joined to the same bridge, each running Kea (its
 * HA hook), tftpd (and lighttpd) and NFS-Ganesha on the files `apply --server` wrote into its
 * own root. A VM boots from the pair; the primary's daemons are then killed by PID, the standby
 * takes over (Kea's own failover), and a second VM boots from the standby alone.
 */
export interface PairServer {
  name: string
  /** The site as this server renders it (its address is `server`). */
  site: SiteModel
  /** Where its files are: its machine's root, where `apply --server` wrote them. */
  root: Root
  /** The VMs as this server sees them (whose roots it exports). */
  vms: FailoverVms
  servers: LabServers
  /** Its Kea HA listener, as its partner reaches it. */
  haUrl: string
}

/** A VM's boot, with the servers whose DHCP logs acknowledged it. */
export type Booted = LabNodeResult & {answeredBy: string[]}

/** A VM booted before the failover, after it: running, its console's NFS trouble, its writer. */
export interface RanOn {
  name: string
  running: boolean
  nfsTrouble: string[]
  /** Its lease as the standby's own lease database has it (Kea's lease updates), before the primary was lost. */
  leaseOnStandby?: Lease
  writes?: Writes
}

/**
 * What a VM's writer acknowledged on its console (a test puts one in its root: a line
 * `pxeroot-lab: write N synced at EPOCH` after each fsync): the count when the primary was lost,
 * the last, and the longest wait between two (the NFS client's stall across a takeover).
 */
export interface Writes {
  atLoss: number
  last: number
  longestGapSeconds: number
}

/** The writer's acknowledgements in a console's text: each counter with the VM's time. */
export function writesIn(console: string): {n: number, at: number}[] {
  return [...console.matchAll(/pxeroot-lab: write (\d+) synced at (\d+)/g)].map((m) => ({n: Number(m[1]), at: Number(m[2])}))
}

/** The VMs of a failover: booted while both servers serve, then from the standby alone. */
export interface FailoverVms {
  before: LabVm[]
  after: LabVm[]
}

export interface FailoverOptions {
  /**
   * The standby also takes over the roots the primary held (servers takeover): the primary's
   * address goes with it (its machine is lost), the takeover runs and returns the standby's
   * servers as its files now are, its NFS server is started again on them, and the primary's
   * address goes onto the standby.
   */
  takeover?: (enterMounts: readonly string[]) => Promise<LabServers>
  probe?: (runner: Runner) => Promise<ServerView[]>
}

export interface FailoverResult {
  passed: boolean
  accel: 'kvm' | 'tcg'
  primary: string
  standby: string
  /** Kea's HA state of each, once both were up (before the first boot). */
  ha: {primary: KeaHaState | {error: string}, standby: KeaHaState | {error: string}}
  /** The VMs booted while both served: their DHCP answers came from the primary. */
  before: Booted[]
  /** From the primary's daemons killed to the standby's HA hook in partner-down (polled every 250 ms). */
  failover: {partnerDownSeconds?: number, state: string}
  /** The VMs booted after the primary was lost, from the standby alone. */
  after: Booted[]
  /** The VMs booted before, after the failover: still running, what their consoles said of their roots' servers, what their writers acknowledged. */
  ranOn: RanOn[]
  /** With a takeover: the roots the standby took over, and how long after the primary was lost it exported them at the primary's address. */
  takeover?: {seconds: number}
  /** `servers list` as the lab network saw it: both up, then after the primary was lost. */
  servers?: {before: ServerView[], after: ServerView[]}
  seconds: number
  logs?: string
}

/** A Runner whose every command runs inside a lab network (`enter` prefixes it). */
export function runnerIn(runner: Runner, enter: (command: string, args: readonly string[]) => [string, string[]]): Runner {
  return {run: (command: string, args: readonly string[], options?: RunOptions) => runner.run(...enter(command, args), options)}
}

const HA_UP_MS = 90_000
/** How long a writer stalled by the loss gets to go on after the boots that follow it. */
const WRITES_WAIT_MS = 300_000
const POLL_MS = 250

/** The pair, each with what the lab asks it. */
interface Pair {
  primary: {run: LabRun, server: PairServer}
  standby: {run: LabRun, server: PairServer}
  /** Runs commands on the lab network (curl to the servers' addresses). */
  net: Runner
}

export async function runFailover(ctx: Context, tools: LabTools, accel: 'kvm' | 'tcg', options: LabBootOptions, servers: readonly [PairServer, PairServer], vms: FailoverVms, with_: FailoverOptions = {}): Promise<FailoverResult> {
  const t0 = Date.now()
  const [a, b] = servers
  const primary = new LabRun({...ctx, root: a.root}, a.site, tools, await ctx.files.tempDir(`${NETNS_PREFIX}${process.pid}-`), accel, options)
  const standby = new LabRun({...ctx, root: b.root}, b.site, tools, await ctx.files.tempDir(`${NETNS_PREFIX}${process.pid}-`), accel, {...options, ...(options.keepLogs ? {keepLogs: `${options.keepLogs}/${b.name}`} : {})},
    (runDir) => joinLabAsServer(ctx.runner, primary.network!, {role: 'peer', cidr: `${b.site.server}/${b.site.net.prefixLength}`, runDir}))
  let result: FailoverResult | undefined
  let failure: unknown
  try {
    await primary.startServers([...a.vms.before, ...a.vms.after], a.servers)
    await standby.startServers([...b.vms.before, ...b.vms.after], b.servers)
    const pair: Pair = {primary: {run: primary, server: a}, standby: {run: standby, server: b}, net: runnerIn(ctx.runner, (c, args) => primary.inServerNet(c, args))}
    result = await failover(ctx, pair, vms, accel, with_)
    result.seconds = (Date.now() - t0) / 1000
  } catch (error) {
    failure = error
  }
  const lab: LabBootResult | undefined = result ? {passed: result.passed, accel, seconds: result.seconds, nodes: [...result.before, ...result.after]} : undefined
  // The standby's host first: it is one of the primary's network's hosts. Its logs go beside the primary's.
  const peer = lab ? {...lab, nodes: []} : undefined
  await standby.teardown([], peer)
  await primary.teardown([...vms.before, ...vms.after], lab)
  if (result && lab?.logs) result.logs = lab.logs
  if (peer?.logs) ctx.log(`lab: ${b.name}'s logs are in ${peer.logs}`)
  if (ctx.signal.aborted) throw ctx.signal.reason
  if (failure !== undefined) throw failure
  return result!
}

async function failover(ctx: Context, pair: Pair, vms: FailoverVms, accel: 'kvm' | 'tcg', {probe, takeover}: FailoverOptions): Promise<FailoverResult> {
  const {primary, standby, net} = pair
  const ha = await haUp(ctx, net, primary.server, standby.server)
  const serversBefore = probe ? await probe(net) : undefined

  const one = await primary.run.boot(vms.before, primary.server.servers, [standby.run])
  const booted = await Promise.all(one.result.nodes.map(async (n, i) => ({...n, answeredBy: await answeredBy(vms.before[i], pair)})))
  const leases = await Promise.all(vms.before.map((vm) => leaseOf(standby.run, vm)))
  const base = {accel, primary: primary.server.name, standby: standby.server.name, ha, seconds: 0}
  if (!booted.every((n) => n.passed)) {
    return {...base, passed: false, before: booted, after: [], ranOn: [], failover: {state: 'not tried: a VM did not boot while both servers served'}}
  }

  // The primary is lost: every daemon of its, by PID; its VMs and network stay.
  const consoles = await Promise.all(vms.before.map((vm) => consoleOf(primary.run, vm)))
  ctx.log(`lab: stopping ${primary.server.name}'s servers (DHCP, TFTP, NFS) to fail over to ${standby.server.name}`)
  const killed = Date.now()
  await primary.run.stopServers()
  const moved = takeover ? await takeOverInLab(ctx, pair, takeover, killed) : undefined
  const failed = await partnerDown(ctx, net, standby.server, killed)
  ctx.log(`lab: ${standby.server.name} is ${failed.state}${failed.partnerDownSeconds === undefined ? '' : ` ${failed.partnerDownSeconds.toFixed(1)} s after ${primary.server.name} was stopped`}`)
  const serversAfter = probe ? await probe(net) : undefined

  const two = await primary.run.boot(vms.after, primary.server.servers, [standby.run])
  const after = await Promise.all(two.result.nodes.map(async (n, i) => ({...n, answeredBy: await answeredBy(vms.after[i], pair)})))
  // A writer stalled by the loss must go on within a bound, whether or not the boots after took that long.
  await Promise.all(vms.before.map((vm, i) => writesResumed(ctx, primary.run, vm, consoles[i])))
  const ranOn = await Promise.all(vms.before.map(async (vm, i) => ranOnAfter(primary.run, vm, consoles[i], leases[i])))
  // A VM whose root the lost server held (taken over) stalls until its root is exported again at
  // its address, then goes on; any other has no trouble at all.
  const held = (r: RanOn, vm: LabVm) => r.running && (vm.node.server === primary.server.name && takeover
    ? !r.nfsTrouble.some((l) => /Kernel panic|Input\/output error/.test(l)) && (r.writes === undefined || r.writes.last > r.writes.atLoss)
    : r.nfsTrouble.length === 0 && (r.writes === undefined || r.writes.last > r.writes.atLoss))
  return {
    ...base,
    passed: after.every((n) => n.passed) && failed.state === 'partner-down' && ranOn.every((r, i) => held(r, vms.before[i])),
    before: booted,
    after,
    ranOn,
    ...(moved ? {takeover: moved} : {}),
    failover: failed,
    ...(serversBefore && serversAfter ? {servers: {before: serversBefore, after: serversAfter}} : {}),
  }
}

/** Until the VM's writer (if it has one) acknowledges a write made after the loss, or WRITES_WAIT_MS. */
async function writesResumed(ctx: Context, run: LabRun, vm: LabVm, before: string): Promise<void> {
  const atLoss = writesIn(before).at(-1)?.n ?? 0
  const deadline = Date.now() + WRITES_WAIT_MS
  for (;;) {
    ctx.signal.throwIfAborted()
    const acks = writesIn(await consoleOf(run, vm))
    if (acks.length === 0 || acks.at(-1)!.n > atLoss || Date.now() > deadline || !run.vmRunning(vm.node.name)) return
    await sleep(2000)
  }
}

/** A VM booted before the failover, as it is now: its console since the primary was lost, its writer. */
async function ranOnAfter(run: LabRun, vm: LabVm, before: string, lease: Lease | undefined): Promise<RanOn> {
  const whole = await consoleOf(run, vm)
  const acks = writesIn(whole)
  const atLoss = writesIn(before).at(-1)?.n ?? 0
  return {
    name: vm.node.name,
    running: run.vmRunning(vm.node.name),
    nfsTrouble: whole.slice(before.length).split('\n').filter((l) => /nfs: server .* (not responding|OK)|Input\/output error|Kernel panic/.test(l)).map((l) => l.trim()),
    ...(lease ? {leaseOnStandby: lease} : {}),
    ...(acks.length > 0 ? {writes: {atLoss, last: acks.at(-1)!.n, longestGapSeconds: Math.max(0, ...acks.slice(1).map((w, i) => w.at - acks[i].at))}} : {}),
  }
}

/**
 * The lab's part of `servers takeover --address`: the primary's machine is gone, so is its address
 * (off the lab network's bridge); the takeover runs on the standby's files; the standby's NFS
 * server starts again on them, and the primary's address goes onto the standby's interface.
 */
async function takeOverInLab(ctx: Context, pair: Pair, takeover: (enterMounts: readonly string[]) => Promise<LabServers>, since: number): Promise<{seconds: number}> {
  const {primary, standby} = pair
  const {site} = primary.server
  const cidr = `${site.server}/${site.net.prefixLength}`
  const ns = primary.run.network!
  await deleteAddress(ctx.runner, ns.name, cidr, ns.bridge)
  // The lab keeps an address of its own on its network, to ask the servers from (servers list, HA
  // state); after the primary's is gone, which would take a secondary address of its subnet with it.
  await ns.addAddress(`${observerAddress(site)}/${site.net.prefixLength}`)
  ctx.log(`lab: ${standby.server.name} takes over the roots ${primary.server.name} held`)
  await standby.run.restartNfs(await takeover(standby.run.network!.enterMounts))
  // What servers takeover --address does on a server: the address, announced on the link.
  await standby.run.network!.addAddress(cidr)
  await announceAddress(runnerIn(ctx.runner, (c, args) => standby.run.inServerNet(c, args)), site.server, standby.run.network!.bridge)
  const seconds = (Date.now() - since) / 1000
  ctx.log(`lab: ${standby.server.name} exports them at ${cidr} ${seconds.toFixed(1)} s after ${primary.server.name} was lost`)
  return {seconds}
}

/** An address of the boot subnet no server, node, pool or router has: the lab's own, once the primary's is gone. */
export function observerAddress(site: SiteModel): string {
  const taken = new Set([site.server, ...site.servers.map((s) => s.address), ...(site.router ? [site.router] : [])])
  for (let n = site.net.last; n >= site.net.first; n--) {
    const ip = numberToIp(n)
    if (!taken.has(ip) && !inRange(ip, site.nodeRange) && !(site.poolRange && inRange(ip, site.poolRange))) return ip
  }
  throw new Error(`internal: no address left in ${site.subnet} for the lab`)
}

/** Both Kea HA hooks past their start-up (waiting, syncing, ready) into normal operation. */
async function haUp(ctx: Context, net: Runner, a: PairServer, b: PairServer): Promise<FailoverResult['ha']> {
  const deadline = Date.now() + HA_UP_MS
  for (;;) {
    ctx.signal.throwIfAborted()
    const [primary, standby] = await Promise.all([fetchHaState(net, a.haUrl), fetchHaState(net, b.haUrl)])
    const normal = (s: KeaHaState | {error: string}) => 'state' in s && /^(hot-standby|load-balancing)$/.test(s.state)
    if (normal(primary) && normal(standby)) {
      ctx.log(`lab: Kea HA up: ${a.name} ${'state' in primary ? primary.state : ''}, ${b.name} ${'state' in standby ? standby.state : ''}`)
      return {primary, standby}
    }
    if (Date.now() > deadline) throw new Error(`Kea HA did not come up within ${HA_UP_MS / 1000} s: ${a.name} ${JSON.stringify(primary)}, ${b.name} ${JSON.stringify(standby)}`)
    await sleep(500)
  }
}

/** Polls the standby's HA state until it serves its partner's clients too. */
async function partnerDown(ctx: Context, net: Runner, standby: PairServer, since: number): Promise<FailoverResult['failover']> {
  const deadline = Date.now() + HA_UP_MS
  let last = 'no answer'
  while (Date.now() < deadline) {
    ctx.signal.throwIfAborted()
    const s = await fetchHaState(net, standby.haUrl)
    if ('state' in s) {
      last = s.state
      if (s.state === 'partner-down') return {state: s.state, partnerDownSeconds: (Date.now() - since) / 1000}
    }
    await sleep(POLL_MS)
  }
  return {state: last}
}

/** Which servers' DHCP logs acknowledged the VM's MAC. */
async function answeredBy(vm: LabVm, pair: Pair): Promise<string[]> {
  const out: string[] = []
  for (const {run, server} of [pair.primary, pair.standby]) if ((await run.dhcpAcks()).some((l) => l.mac === vm.target.mac)) out.push(server.name)
  return out
}

/** The VM's lease in a server's own lease database (its memfile), as Kea wrote it. */
async function leaseOf(run: LabRun, vm: LabVm): Promise<Lease | undefined> {
  const file = run.dhcpLeaseFile
  const text = file ? (await readIfExists(file))?.toString('utf8') : undefined
  return text ? parseKeaLeases(text, new Date()).leases.filter((l) => l.mac === vm.target.mac && l.ip === vm.node.ip).at(-1) : undefined
}

async function consoleOf(run: LabRun, vm: LabVm): Promise<string> {
  return plainConsole((await readIfExists(run.dir.file(`${vm.node.name}.serial.log`)))?.toString('latin1') ?? '')
}
