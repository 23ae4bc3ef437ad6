import {promises as fs} from 'node:fs'

import {readLeaseFiles} from '../backends/dhcp/leases.js'
import {DHCP_SERVERS} from '../backends/registry.js'
import {bootNodes} from '../boot/nodes.js'
import {loadSite} from '../config/site-file.js'
import {UserError} from '../errors.js'
import {loadInventory} from '../inventory/inventory.js'
import {readBootReport} from '../status/booted.js'
import {labSessionSources} from '../status/lab-session.js'
import {withStorage} from '../storage/registry.js'
import {liveStatus, type LiveSources, type LiveStatus} from '../status/live.js'
import {probeServers, type ServerView} from '../servers/probe.js'
import {siteVersion} from '../servers/record.js'
import {type Context} from '../system/context.js'
import {rootsByServer} from '../servers/roots.js'
import {probeRunner, siteFromHere} from './servers-list.js'

/** The host's own logs a boot-file fetch may be recorded in (tftpd-hpa logs through syslog). */
export const FETCH_LOGS = ['/var/log/syslog', '/var/log/daemon.log']

export interface StatusResult extends LiveStatus {
  /** A site with several servers: each as probed from here (servers list). */
  servers?: ServerView[]
  /** When the state was read. */
  at: string
  /** What it was read from, so an empty answer can be told from a missing source. */
  /** The lease files read (null: none, in proxy mode the network's own DHCP server holds the leases). */
  sources: {leases: readonly string[] | null}
}

/**
 * `pxeroot status [NODE...]`: each node's live state from the real services, read-only: the
 * active DHCP server's lease database, the NFS connections to this server, the node's revision,
 * and its last boot-file fetch where a log records it.
 */
export async function readStatus(ctx: Context, names: readonly string[] = []): Promise<StatusResult> {
  // On a site with several servers: this one's view (the NFS connections of the roots it holds), and every server probed.
  const site = siteFromHere(ctx, await loadSite(ctx.root))
  const inventory = await loadInventory(ctx.root)
  const all = await bootNodes(ctx, site, inventory)
  for (const name of names) {
    if (!all.some((n) => n.name === name)) throw new UserError(`NODE: ${name} is not in the inventory`, 'see "pxeroot nodes list"')
  }
  const nodes = names.length === 0 ? all : all.filter((n) => names.includes(n.name))
  const db = site.dhcp.mode === 'proxy' ? undefined : DHCP_SERVERS[site.backends.dhcp].leases
  const read = (hostPath: string) => fs.readFile(ctx.root.resolve(hostPath), 'utf8').catch(() => undefined)
  const readAll = async (paths: readonly string[]) => (await Promise.all(paths.map(read))).filter((t): t is string => t !== undefined)
  // In a lab session, the lab's servers are the server.
  const sources: LiveSources = await labSessionSources(ctx.runner) ?? {
    leases: async () => (db ? readLeaseFiles(ctx.root, db) : []),
    // The socket tables are this machine's, whatever --root says (a test root has no connections).
    sockets: async () => ctx.root.isHost ? readAll(['/proc/net/tcp', '/proc/net/tcp6']) : [],
    fetchLogs: () => readAll(FETCH_LOGS),
  }
  const [status, servers] = await Promise.all([
    withStorage(ctx, site, (storage) => liveStatus(ctx.root, site, inventory, nodes, db, {...sources, bootReport: (node) => readBootReport(storage, node), rootMapped: async (node) => (await storage.rootInUse(node)).length > 0})),
    site.servers.length > 0 ? probeServers(probeRunner(ctx), site, siteVersion(site, inventory), rootsByServer(site, inventory)) : undefined,
  ])
  // Asked about some nodes, the answer is about them: unknown machines are for the whole view.
  return {...status, ...(names.length > 0 ? {unknown: []} : {}), at: new Date().toISOString(), sources: {leases: db?.files ?? null}, ...(servers ? {servers} : {})}
}
