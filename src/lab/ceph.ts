import {randomUUID} from 'node:crypto'
import {promises as fs} from 'node:fs'
import path from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'

import {inRange, isIPv4, numberToIp} from '../config/address.js'
import {type SiteModel} from '../config/site.js'
import {BusyError, ExternalCommandError, PreconditionError, UserError} from '../errors.js'
import {type Context} from '../system/context.js'
import {type DetachedRecord, spawnDetached, stillRunning, stopDetached} from '../system/detached.js'
import {exists, readIfExists} from '../system/files.js'
import {createBridgedNamespace, deleteNamespace, namespaceExists} from '../system/netns.js'
import {removeTree} from '../system/trees.js'
import {CEPH_LAB_BRIDGE, CEPH_LAB_POOL, cephLabLayout, type CephLabLayout, cephLabNamespace, type CephLabRecord, longestSocket, MON_V1_PORT, renderCephConf} from './ceph-conf.js'
import {lastLines} from './tail.js'
import {standInAddress} from './router.js'
import {findTools} from './tools.js'

/** Every program the cluster runs, with the Debian package that has it. */
export const CEPH_LAB_TOOLS = {
  'ceph-mon': 'ceph-mon',
  'ceph-mgr': 'ceph-mgr',
  'ceph-osd': 'ceph-osd',
  ceph: 'ceph-common',
  rbd: 'ceph-common',
  'ceph-authtool': 'ceph-common',
  monmaptool: 'ceph-base',
  timeout: 'coreutils',
  nsenter: 'util-linux',
  ip: 'iproute2',
} as const

export type CephLabTools = Record<keyof typeof CEPH_LAB_TOOLS, string>

/** The servers in start order; stop goes the other way. */
const SERVERS = ['mon.a', 'mgr.x', 'osd'] as const
type ServerName = typeof SERVERS[number]

const CLIENT_MS = 30_000
const MON_UP_MS = 60_000
const OSD_UP_MS = 120_000
const HEALTHY_MS = 180_000
const MKFS_MS = 120_000
const DEFAULT_LIFETIME_MINUTES = 12 * 60

export interface CephLabStartOptions {
  /** Disk path of the state directory. */
  dir: string
  /** ADDR/PREFIX the servers listen on; from the site when absent. */
  address?: string
  osdGiB?: number
  lifetimeMinutes?: number
}

export interface CephLabServer {
  name: string
  pid?: number
  running: boolean
}

export interface CephLabInfo {
  dir: string
  conf: string
  /** ceph.conf as pxeroot's other commands name it (a host path, resolved under --root). */
  confHostPath: string
  adminKeyring: string
  namespace: string
  /** The monitor, as ADDR:PORT (msgr v1, what the kernel client speaks). */
  monitor: string
  address: string
  pool: string
  servers: CephLabServer[]
}

export interface CephLabStartResult extends CephLabInfo {
  /** Already running: nothing was started. */
  alreadyRunning: boolean
  /** A stopped cluster's data was started again (its images kept). */
  restarted: boolean
  health: string
  seconds: number
}

export interface CephLabStatusResult extends Partial<CephLabInfo> {
  dir: string
  exists: boolean
  running: boolean
  health?: string
}

export interface CephLabStopResult {
  dir: string
  namespace?: string
  /** Servers that ended on SIGTERM, and those that had to be killed. */
  stopped: string[]
  killed: string[]
  purged: boolean
}

/**
 * The address a throwaway cluster gets on a site's boot network, so lab VMs reach it on their own
 * link: the highest address of the subnet that is not the server's, the router's, in a range
 * pxeroot hands out, or where the lab puts its stand-in DHCP server (proxy mode).
 */
export function cephLabAddress(site: SiteModel): string {
  const taken = new Set([site.server, site.router, standInAddress(site)])
  const free = (ip: string) => !taken.has(ip) && !inRange(ip, site.nodeRange) && !(site.poolRange && inRange(ip, site.poolRange))
  for (let n = site.net.last; n >= site.net.first; n--) if (free(numberToIp(n))) return `${numberToIp(n)}/${site.net.prefixLength}`
  throw new UserError(`subnet ${site.subnet} has no free address for the cluster`, 'name one with --address ADDR/PREFIX')
}

function parseAddress(cidr: string): {address: string, prefixLength: number} {
  const m = /^([^/]+)\/(\d+)$/.exec(cidr)
  const prefixLength = Number(m?.[2])
  if (!m || !isIPv4(m[1]) || prefixLength < 8 || prefixLength > 30) {
    throw new UserError(`--address: ${cidr} is not an IPv4 address with a prefix length between /8 and /30`, 'e.g. --address 10.77.0.253/24, an address of the boot network the lab VMs are on')
  }
  return {address: m[1], prefixLength}
}

async function readRecord(layout: CephLabLayout): Promise<CephLabRecord | undefined> {
  const text = await readIfExists(layout.record)
  return text ? JSON.parse(text.toString('utf8')) as CephLabRecord : undefined
}

function pidFile(layout: CephLabLayout, name: string): string {
  return path.join(layout.run, `${name}.pids.json`)
}

async function readPids(layout: CephLabLayout, name: string): Promise<DetachedRecord | undefined> {
  const text = await readIfExists(pidFile(layout, name))
  return text ? JSON.parse(text.toString('utf8')) as DetachedRecord : undefined
}

async function serverStates(layout: CephLabLayout): Promise<CephLabServer[]> {
  return Promise.all(SERVERS.map(async (name) => {
    const rec = await readPids(layout, name)
    return {name, pid: rec?.server?.pid ?? rec?.bound.pid, running: await stillRunning(rec?.server ?? rec?.bound)}
  }))
}

/** A disk path as pxeroot's other commands name it under --root; as it is when it lies outside the root (a cluster kept elsewhere). */
function hostPathOf(ctx: Context, disk: string): string {
  const rel = path.relative(ctx.root.prefix, disk)
  return rel.startsWith('..') || path.isAbsolute(rel) ? disk : ctx.root.hostPath(disk)
}

function info(ctx: Context, layout: CephLabLayout, record: CephLabRecord, servers: CephLabServer[]): CephLabInfo {
  return {
    dir: layout.dir,
    conf: layout.conf,
    confHostPath: hostPathOf(ctx, layout.conf),
    adminKeyring: layout.adminKeyring,
    namespace: record.namespace,
    monitor: `${record.address}:${MON_V1_PORT}`,
    address: `${record.address}/${record.prefixLength}`,
    pool: record.pool,
    servers,
  }
}

/**
 * One cluster's servers and clients: every command runs inside the cluster's network namespace
 * (nsenter, so a client near mounts keeps the caller's mount namespace) with its ceph.conf, and
 * is bounded; every server is started detached under `timeout` and recorded by PID.
 */
class CephLab {
  constructor(
    private readonly ctx: Context,
    readonly layout: CephLabLayout,
    readonly record: CephLabRecord,
    private readonly tools: CephLabTools,
  ) {}

  private inNs(command: string, args: readonly string[]): [string, string[]] {
    return [this.tools.nsenter, [`--net=/run/netns/${this.record.namespace}`, '--', command, ...args]]
  }

  private get env(): Record<string, string> {
    return {CEPH_CONF: this.layout.conf}
  }

  async ceph(args: readonly string[], timeoutMs = CLIENT_MS): Promise<string> {
    const [cmd, argv] = this.inNs(this.tools.ceph, ['--conf', this.layout.conf, '--connect-timeout', String(Math.ceil(timeoutMs / 1000)), ...args])
    return (await this.ctx.runner.run(cmd, argv, {timeout: timeoutMs + 5000, env: this.env, cancelSignal: this.ctx.signal})).stdout
  }

  async tryCeph(args: readonly string[], timeoutMs = 10_000): Promise<string | undefined> {
    try {
      return await this.ceph(args, timeoutMs)
    } catch (error) {
      if (this.ctx.signal.aborted) throw error
      return undefined
    }
  }

  async run(tool: keyof CephLabTools, args: readonly string[], options: {inNs?: boolean, timeoutMs?: number} = {}): Promise<string> {
    const [cmd, argv] = options.inNs ? this.inNs(this.tools[tool], args) : [this.tools[tool], [...args]]
    return (await this.ctx.runner.run(cmd, argv, {timeout: options.timeoutMs ?? CLIENT_MS, env: this.env, cancelSignal: this.ctx.signal})).stdout
  }

  async startServer(name: ServerName, program: 'ceph-mon' | 'ceph-mgr' | 'ceph-osd', id: string): Promise<void> {
    const lifetime = `${this.record.lifetimeMinutes * 60}s`
    const [cmd, argv] = this.inNs(this.tools.timeout, ['--kill-after=30s', lifetime, this.tools[program], '-f', '--conf', this.layout.conf, '-i', id])
    // glibc malloc never gives an OSD's freed memory back (notes/ceph.md); fewer arenas keep it smaller.
    const rec = await spawnDetached({name, command: cmd, args: argv, log: path.join(this.layout.log, `${name}.out`), env: {...this.env, MALLOC_ARENA_MAX: '2'}})
    await this.ctx.files.write(pidFile(this.layout, name), JSON.stringify(rec) + '\n')
  }

  /** Polls `test` every half second until it holds; fails at the bound, or at once when a server died (with its log). */
  async until(what: string, test: () => Promise<boolean>, boundMs: number): Promise<void> {
    const deadline = Date.now() + boundMs
    for (;;) {
      this.ctx.signal.throwIfAborted()
      if (await test()) return
      for (const s of await serverStates(this.layout)) {
        if (s.pid !== undefined && !s.running) {
          const log = (await readIfExists(path.join(this.layout.log, `ceph-${s.name.startsWith('osd') ? `osd.${this.record.osdId}` : s.name}.log`)))?.toString('utf8') ?? ''
          const out = (await readIfExists(path.join(this.layout.log, `${s.name}.out`)))?.toString('utf8') ?? ''
          throw new ExternalCommandError(s.name, [], undefined, '', `lab ceph: ${s.name} stopped before ${what}: ${lastLines(out) || lastLines(log) || 'no output'} (logs in ${this.layout.log})`)
        }
      }
      if (Date.now() > deadline) throw new ExternalCommandError('ceph', [], undefined, '', `lab ceph: no ${what} within ${boundMs / 1000} s (logs in ${this.layout.log})`)
      await sleep(500)
    }
  }

  async health(): Promise<string | undefined> {
    return (await this.tryCeph(['health'], 10_000))?.trim()
  }

  async waitHealthy(): Promise<string> {
    await this.until('a monitor answering', async () => await this.tryCeph(['mon', 'stat'], 5000) !== undefined, MON_UP_MS)
    await this.until('the OSD up', async () => {
      const stat = await this.tryCeph(['osd', 'stat', '-f', 'json'], 5000)
      return stat !== undefined && (JSON.parse(stat) as {num_up_osds?: number}).num_up_osds === 1
    }, OSD_UP_MS)
    let health = ''
    await this.until('HEALTH_OK', async () => {
      health = (await this.health()) ?? ''
      return health === 'HEALTH_OK'
    }, HEALTHY_MS)
    return health
  }
}

export async function requireCephLabTools(): Promise<CephLabTools> {
  const {found, missing} = await findTools(CEPH_LAB_TOOLS)
  if (missing.length > 0) throw new PreconditionError('pxeroot lab ceph needs the Ceph servers and tools, which are not installed', `apt-get install --no-install-recommends ${missing.join(' ')}`)
  return found as CephLabTools
}

function requireRoot(): void {
  if (process.getuid?.() !== 0) throw new PreconditionError('pxeroot lab ceph needs root (a network namespace for the cluster)', 'run it with sudo')
}

/**
 * `lab ceph start`: a throwaway single-host cluster (1 mon, 1 mgr, 1 bluestore OSD on a sparse
 * file, pool `rbd`) from Debian's packages, every file under `dir`, every server in the
 * foreground inside a network namespace of its own, bounded by `timeout` and recorded by PID.
 * The servers listen on one address on a bridge in that namespace (lab runs join the bridge).
 * HEALTH_OK in about 15 s on 2 cores. A stopped cluster in `dir` is started again with its data;
 * a failure half-way stops what was started and deletes the namespace.
 */
export async function startCephLab(ctx: Context, site: SiteModel | undefined, options: CephLabStartOptions): Promise<CephLabStartResult> {
  requireRoot()
  const t0 = Date.now()
  const layout = cephLabLayout(options.dir)
  if (Buffer.byteLength(longestSocket(layout)) > 107) {
    throw new UserError(`--dir: ${options.dir} is too long for the cluster's sockets (a UNIX socket path holds 107 bytes)`, 'choose a shorter state directory')
  }
  const osdGiB = options.osdGiB ?? 20
  if (!Number.isInteger(osdGiB) || osdGiB < 1) throw new UserError('--osd-size: must be a whole number of GiB, at least 1')
  const lifetimeMinutes = options.lifetimeMinutes ?? DEFAULT_LIFETIME_MINUTES
  if (!Number.isInteger(lifetimeMinutes) || lifetimeMinutes < 1) throw new UserError('--lifetime: must be a whole number of minutes, at least 1')
  const previous = await readRecord(layout)
  if (previous && options.address && `${previous.address}/${previous.prefixLength}` !== options.address) {
    throw new UserError(`--address: the cluster in ${options.dir} listens on ${previous.address}/${previous.prefixLength}`, `leave --address out, or "pxeroot lab ceph stop --purge --dir ${options.dir}" first`)
  }
  const tools = await requireCephLabTools()
  if (previous) {
    const servers = await serverStates(layout)
    if (servers.some((s) => s.running)) {
      if (!servers.every((s) => s.running)) throw new BusyError(`the cluster in ${options.dir} is partly running (${servers.filter((s) => !s.running).map((s) => s.name).join(', ')} stopped)`, `pxeroot lab ceph stop --dir ${options.dir}, then start it again`)
      const lab = new CephLab(ctx, layout, previous, tools)
      return {...info(ctx, layout, previous, servers), alreadyRunning: true, restarted: false, health: (await lab.health()) ?? 'not answering', seconds: (Date.now() - t0) / 1000}
    }
  } else if (await exists(layout.dir) && !await emptyDir(layout.dir)) {
    throw new UserError(`--dir: ${options.dir} is not empty and holds no cluster of pxeroot's`, 'choose an empty or new directory')
  }

  const {address, prefixLength} = previous ?? parseAddress(options.address ?? cephLabAddressOrRefuse(site))
  const record: CephLabRecord = previous ?? {
    fsid: randomUUID(),
    namespace: cephLabNamespace(options.dir),
    address,
    prefixLength,
    bridge: CEPH_LAB_BRIDGE,
    pool: CEPH_LAB_POOL,
    osdId: 0,
    osdGiB,
    lifetimeMinutes,
    created: new Date().toISOString(),
  }
  if (previous) record.lifetimeMinutes = lifetimeMinutes
  // None of its servers runs (they reached their lifetime, or were killed): what is left of the namespace is stale.
  await deleteNamespace(ctx.runner, record.namespace)
  const lab = new CephLab(ctx, layout, record, tools)
  try {
    for (const dir of [layout.keys, layout.run, layout.log, layout.crash, layout.monData, layout.mgrData, layout.osdData(record.osdId)]) await ctx.files.mkdir(dir, 0o700)
    await ctx.files.write(layout.record, JSON.stringify(record, null, 2) + '\n')
    await ctx.files.write(layout.conf, renderCephConf({fsid: record.fsid, address, layout, osdGiB: record.osdGiB}), {mode: 0o644})
    await createBridgedNamespace(ctx.runner, {name: record.namespace, bridge: record.bridge, cidr: `${address}/${prefixLength}`})
    ctx.log(`lab ceph: network namespace ${record.namespace}, ${address}/${prefixLength} on ${record.bridge}`)
    if (previous) await restart(lab)
    else await bootstrap(ctx, lab)
    const health = await lab.waitHealthy()
    const seconds = (Date.now() - t0) / 1000
    ctx.log(`lab ceph: ${health} in ${seconds.toFixed(1)} s`)
    return {...info(ctx, layout, record, await serverStates(layout)), alreadyRunning: false, restarted: previous !== undefined, health, seconds}
  } catch (error) {
    ctx.log(`lab ceph: start failed; stopping what was started (logs in ${layout.log})`)
    await stopServers(layout).catch(() => undefined)
    await deleteNamespace(ctx.runner, record.namespace).catch(() => undefined)
    // A cluster that never came up once has no data worth keeping.
    if (!previous) await removeTree(ctx.runner, layout.dir, {mounts: 'refuse'}).catch(() => undefined)
    throw error
  }
}

function cephLabAddressOrRefuse(site: SiteModel | undefined): string {
  if (!site) throw new UserError('no site file to take the cluster\'s address from', 'name it with --address ADDR/PREFIX (an address of the network the lab VMs boot on), or run "pxeroot init" first')
  return cephLabAddress(site)
}

async function emptyDir(dir: string): Promise<boolean> {
  return (await fs.readdir(dir)).length === 0
}

/** Keys, monmap, monitor, manager, OSD, pool: the reference script's steps (shared/lab/ceph-single-host.sh). */
async function bootstrap(ctx: Context, lab: CephLab): Promise<void> {
  const {layout: l, record: r} = lab
  await lab.run('ceph-authtool', ['--create-keyring', l.monKeyring, '--gen-key', '-n', 'mon.', '--cap', 'mon', 'allow *'])
  await lab.run('ceph-authtool', ['--create-keyring', l.adminKeyring, '--gen-key', '-n', 'client.admin',
    '--cap', 'mon', 'allow *', '--cap', 'osd', 'allow *', '--cap', 'mds', 'allow *', '--cap', 'mgr', 'allow *'])
  await lab.run('ceph-authtool', [l.monKeyring, '--import-keyring', l.adminKeyring])
  const addrs = `[v2:${r.address}:3300,v1:${r.address}:${MON_V1_PORT}]`
  await lab.run('monmaptool', ['--create', '--fsid', r.fsid, '--addv', 'a', addrs, '--set-min-mon-release', 'pacific', '--enable-all-features', l.monmap])
  await lab.run('ceph-mon', ['--conf', l.conf, '--mkfs', '-i', 'a', '--monmap', l.monmap, '--keyring', l.monKeyring], {inNs: true, timeoutMs: MKFS_MS})
  await lab.startServer('mon.a', 'ceph-mon', 'a')
  await lab.until('a monitor answering', async () => await lab.tryCeph(['mon', 'stat'], 5000) !== undefined, MON_UP_MS)
  ctx.log('lab ceph: monitor up')

  await lab.ceph(['auth', 'get-or-create', 'mgr.x', 'mon', 'allow profile mgr', 'osd', 'allow *', 'mds', 'allow *', '-o', path.join(l.mgrData, 'keyring')])
  await lab.startServer('mgr.x', 'ceph-mgr', 'x')

  const osdUuid = randomUUID()
  const id = Number((await lab.ceph(['osd', 'new', osdUuid])).trim())
  if (id !== r.osdId) throw new ExternalCommandError('ceph', ['osd', 'new'], undefined, '', `lab ceph: the new cluster numbered its OSD ${id}, not ${r.osdId}`)
  const osdKeyring = path.join(l.osdData(id), 'keyring')
  await lab.run('ceph-authtool', ['--create-keyring', osdKeyring, '--gen-key', '-n', `osd.${id}`])
  await lab.ceph(['auth', 'add', `osd.${id}`, 'osd', 'allow *', 'mon', 'allow profile osd', 'mgr', 'allow profile osd', '-i', osdKeyring])
  await lab.run('ceph-osd', ['--conf', l.conf, '-i', String(id), '--mkfs', '--osd-uuid', osdUuid], {inNs: true, timeoutMs: MKFS_MS})
  await lab.startServer('osd', 'ceph-osd', String(id))
  await lab.until('the OSD up', async () => {
    const stat = await lab.tryCeph(['osd', 'stat', '-f', 'json'], 5000)
    return stat !== undefined && (JSON.parse(stat) as {num_up_osds?: number}).num_up_osds === 1
  }, OSD_UP_MS)
  ctx.log('lab ceph: OSD up')

  await lab.ceph(['osd', 'pool', 'create', r.pool, '16'])
  await lab.run('rbd', ['--conf', l.conf, 'pool', 'init', r.pool], {inNs: true, timeoutMs: 60_000})
  // Clones across RBD namespaces (a node's clone of a revision) need clone v2.
  await lab.ceph(['osd', 'set-require-min-compat-client', 'mimic'])
}

async function restart(lab: CephLab): Promise<void> {
  await lab.startServer('mon.a', 'ceph-mon', 'a')
  await lab.until('a monitor answering', async () => await lab.tryCeph(['mon', 'stat'], 5000) !== undefined, MON_UP_MS)
  await lab.startServer('mgr.x', 'ceph-mgr', 'x')
  await lab.startServer('osd', 'ceph-osd', String(lab.record.osdId))
}

/** Stops the recorded servers, OSD first; returns which ended on SIGTERM and which had to be killed. */
async function stopServers(layout: CephLabLayout): Promise<{stopped: string[], killed: string[]}> {
  const stopped: string[] = []
  const killed: string[] = []
  for (const name of [...SERVERS].reverse()) {
    const rec = await readPids(layout, name)
    if (!rec) continue
    if (await stillRunning(rec.server) || await stillRunning(rec.bound)) {
      if (await stopDetached(rec)) killed.push(name)
      else stopped.push(name)
    }
  }
  return {stopped, killed}
}

/**
 * `lab ceph stop`: the servers by their recorded PIDs (SIGTERM, then SIGKILL after a grace
 * period), anything else left in the cluster's namespace, the namespace; with `purge` the whole
 * state directory too. Safe on a cluster that is half made, already stopped, or gone.
 */
export async function stopCephLab(ctx: Context, dir: string, options: {purge?: boolean} = {}): Promise<CephLabStopResult> {
  requireRoot()
  const layout = cephLabLayout(dir)
  const record = await readRecord(layout)
  const {stopped, killed} = await stopServers(layout)
  const namespace = record?.namespace ?? cephLabNamespace(dir)
  await deleteNamespace(ctx.runner, namespace)
  for (const name of SERVERS) await ctx.files.remove(pidFile(layout, name))
  let purged = false
  if (options.purge && await exists(dir)) {
    if (!record && !await emptyDir(dir)) throw new UserError(`--purge: ${dir} holds no cluster of pxeroot's; not removing it`, 'remove it yourself if it is yours')
    await removeTree(ctx.runner, dir, {mounts: 'refuse'})
    purged = true
  }
  return {dir, namespace: record ? namespace : undefined, stopped, killed, purged}
}

/** `lab ceph status`: whether the cluster's servers run (by PID) and, when they do, its health. */
export async function cephLabStatus(ctx: Context, dir: string): Promise<CephLabStatusResult> {
  const layout = cephLabLayout(dir)
  const record = await readRecord(layout)
  if (!record) return {dir, exists: false, running: false}
  const servers = await serverStates(layout)
  const running = servers.every((s) => s.running) && await namespaceExists(record.namespace)
  let health: string | undefined
  if (running && process.getuid?.() === 0) {
    const tools = await requireCephLabTools()
    health = (await new CephLab(ctx, layout, record, tools).health()) ?? 'not answering'
  }
  return {...info(ctx, layout, record, servers), exists: true, running, ...(health ? {health} : {})}
}
