import {setTimeout as sleep} from 'node:timers/promises'

import {parseKeaLeases, type Lease} from '../backends/dhcp/leases.js'
import {type SiteModel} from '../config/site.js'
import {fetchHaState, type KeaHaState, type ServerView} from '../servers/probe.js'
import {type Context} from '../system/context.js'
import {type Root} from '../system/paths.js'
import {readIfExists} from '../system/files.js'
import {joinLabAsServer, NETNS_PREFIX} from '../system/netns.js'
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
  vms: readonly [LabVm, LabVm]
  servers: LabServers
  /** Its Kea HA listener, as its partner reaches it. */
  haUrl: string
}

export interface FailoverResult {
  passed: boolean
  accel: 'kvm' | 'tcg'
  primary: string
  standby: string
  /** Kea's HA state of each, once both were up (before the first boot). */
  before: {primary: KeaHaState | {error: string}, standby: KeaHaState | {error: string}}
  /** The first VM, booted while both served: its DHCP answers came from the primary. */
  first: LabNodeResult & {answeredBy: string[]}
  /** The first VM's lease as the standby's own lease database has it (Kea's lease updates), before the primary was lost. */
  leaseOnStandby?: Lease
  /** From the primary's daemons killed to the standby's HA hook in partner-down (polled every 250 ms). */
  failover: {partnerDownSeconds?: number, state: string}
  /** The second VM, booted after the primary was lost. */
  second?: LabNodeResult & {answeredBy: string[]}
  /** The first VM after the failover: still running, and what its console said of its root's server. */
  firstAfter: {running: boolean, nfsTrouble: string[]}
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
const POLL_MS = 250

/** The pair, each with what the lab asks it. */
interface Pair {
  primary: {run: LabRun, server: PairServer}
  standby: {run: LabRun, server: PairServer}
  /** Runs commands on the lab network (curl to the servers' addresses). */
  net: Runner
}

export async function runFailover(ctx: Context, tools: LabTools, accel: 'kvm' | 'tcg', options: LabBootOptions, servers: readonly [PairServer, PairServer], vms: readonly [LabVm, LabVm], probe?: (runner: Runner) => Promise<ServerView[]>): Promise<FailoverResult> {
  const t0 = Date.now()
  const [a, b] = servers
  const primary = new LabRun({...ctx, root: a.root}, a.site, tools, await ctx.files.tempDir(`${NETNS_PREFIX}${process.pid}-`), accel, options)
  const standby = new LabRun({...ctx, root: b.root}, b.site, tools, await ctx.files.tempDir(`${NETNS_PREFIX}${process.pid}-`), accel, {...options, ...(options.keepLogs ? {keepLogs: `${options.keepLogs}/${b.name}`} : {})},
    (runDir) => joinLabAsServer(ctx.runner, primary.network!, {role: 'peer', cidr: `${b.site.server}/${b.site.net.prefixLength}`, runDir}))
  let result: FailoverResult | undefined
  let failure: unknown
  try {
    await primary.startServers([...a.vms], a.servers)
    await standby.startServers([...b.vms], b.servers)
    const pair: Pair = {primary: {run: primary, server: a}, standby: {run: standby, server: b}, net: runnerIn(ctx.runner, (c, args) => primary.inServerNet(c, args))}
    result = await failover(ctx, pair, [...vms], accel, probe)
    result.seconds = (Date.now() - t0) / 1000
  } catch (error) {
    failure = error
  }
  const lab: LabBootResult | undefined = result ? {passed: result.passed, accel, seconds: result.seconds, nodes: [result.first, ...(result.second ? [result.second] : [])]} : undefined
  // The standby's host first: it is one of the primary's network's hosts. Its logs go beside the primary's.
  const peer = lab ? {...lab, nodes: []} : undefined
  await standby.teardown([], peer)
  await primary.teardown([...vms], lab)
  if (result && lab?.logs) result.logs = lab.logs
  if (peer?.logs) ctx.log(`lab: ${b.name}'s logs are in ${peer.logs}`)
  if (ctx.signal.aborted) throw ctx.signal.reason
  if (failure !== undefined) throw failure
  return result!
}

async function failover(ctx: Context, pair: Pair, vms: LabVm[], accel: 'kvm' | 'tcg', probe?: (runner: Runner) => Promise<ServerView[]>): Promise<FailoverResult> {
  const {primary, standby, net} = pair
  const before = await haUp(ctx, net, primary.server, standby.server)
  const serversBefore = probe ? await probe(net) : undefined

  const one = await primary.run.boot([vms[0]], primary.server.servers, [standby.run])
  const first = {...one.result.nodes[0], answeredBy: await answeredBy(vms[0], pair)}
  const leaseOnStandby = await leaseOf(standby.run, vms[0])
  const base = {accel, primary: primary.server.name, standby: standby.server.name, before, first, ...(leaseOnStandby ? {leaseOnStandby} : {}), seconds: 0}
  if (!first.passed) return {...base, passed: false, failover: {state: 'not tried: the first VM did not boot'}, firstAfter: {running: false, nfsTrouble: []}}

  // The primary is lost: every daemon of its, by PID; its VMs and network stay.
  const consoleBefore = await consoleOf(primary.run, vms[0])
  ctx.log(`lab: stopping ${primary.server.name}'s servers (DHCP, TFTP, NFS) to fail over to ${standby.server.name}`)
  const killed = Date.now()
  await primary.run.stopServers()
  const failed = await partnerDown(ctx, net, standby.server, killed)
  ctx.log(`lab: ${standby.server.name} is ${failed.state}${failed.partnerDownSeconds === undefined ? '' : ` ${failed.partnerDownSeconds.toFixed(1)} s after ${primary.server.name} was stopped`}`)
  const serversAfter = probe ? await probe(net) : undefined

  const two = await primary.run.boot([vms[1]], primary.server.servers, [standby.run])
  const second = {...two.result.nodes[0], answeredBy: await answeredBy(vms[1], pair)}
  const after = (await consoleOf(primary.run, vms[0])).slice(consoleBefore.length)
  const firstAfter = {running: primary.run.vmRunning(vms[0].node.name), nfsTrouble: after.split('\n').filter((l) => /nfs: server .* not responding|Input\/output error|Kernel panic/.test(l)).map((l) => l.trim())}
  return {
    ...base,
    passed: first.passed && second.passed && failed.state === 'partner-down' && firstAfter.running && firstAfter.nfsTrouble.length === 0,
    failover: failed,
    second,
    firstAfter,
    ...(serversBefore && serversAfter ? {servers: {before: serversBefore, after: serversAfter}} : {}),
  }
}

/** Both Kea HA hooks past their start-up (waiting, syncing, ready) into normal operation. */
async function haUp(ctx: Context, net: Runner, a: PairServer, b: PairServer): Promise<FailoverResult['before']> {
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
