import {leasesOf, type LeaseDatabase, type LeaseFile, type LeaseRead} from '../backends/dhcp/leases.js'
import {type BootNode} from '../boot/model.js'
import {type SiteModel} from '../config/site.js'
import {currentRevision, parseRevisionRef, type RevisionRef} from '../images/layout.js'
import {type Inventory} from '../inventory/inventory.js'
import {type Root} from '../system/paths.js'
import {mapBounded, settled} from '../system/pool.js'
import {type BootReport} from '../images/boot-report.js'
import {lastFetches} from './fetches.js'
import {nfsClientsIn} from './nfs-clients.js'
import {nodeStatuses, summarize, type NodeStatus, type StatusSummary} from './node-status.js'
import {unknownMachines, type UnknownMachine} from './unknown.js'

/** Where the live state comes from: the host's files, or a lab run's private servers. */
export interface LiveSources {
  /** The DHCP server's lease files, oldest first; files not written yet are left out. */
  leases(): Promise<LeaseFile[]>
  /** Socket tables (/proc/net/tcp, tcp6) of the network namespace the NFS server runs in. */
  sockets(): Promise<string[]>
  /** Logs that record boot-file fetches and DHCP requests (syslog for tftpd and the DHCP servers, the web server's access log). */
  fetchLogs(): Promise<string[]>
  /** What a node last reported of its boot from its root (status/booted.ts); none when absent. */
  bootReport?(node: string): Promise<BootReport | undefined>
  /** Whether a root the node maps itself (an RBD root) is mapped now: the cluster's watchers of it. */
  rootMapped?(node: string): Promise<boolean>
}

export interface LiveStatus {
  nodes: NodeStatus[]
  summary: StatusSummary
  /** Lease entries that could not be read (their machines may show without a lease), by file and line. */
  unreadableLeases: LeaseRead['unreadable']
  /** Machines that asked for a lease or a boot file but are in no node, newest first. */
  unknown: UnknownMachine[]
}

/** The boot report in each node's root, by name; a few hundred bytes each, read a few at a time. */
async function bootReports(sources: LiveSources, nodes: readonly BootNode[]): Promise<Map<string, BootReport>> {
  if (!sources.bootReport) return new Map()
  const read = sources.bootReport
  const reports = settled(await mapBounded(nodes, 16, async (node) => [node.name, await read(node.name)] as const))
  return new Map(reports.filter((r): r is readonly [string, BootReport] => r?.[1] !== undefined))
}

/** The nodes whose own root (RBD: no NFS connection to see) is mapped now, by the storage's view. */
async function mappedRoots(sources: LiveSources, nodes: readonly BootNode[]): Promise<Set<string>> {
  const mapped = sources.rootMapped
  if (!mapped) return new Set()
  const own = nodes.filter((n) => n.root.kind === 'rbd')
  const found = settled(await mapBounded(own, 16, async (node) => ((await mapped(node.name)) ? node.name : undefined)))
  return new Set(found.filter((n): n is string => n !== undefined))
}

/**
 * The status of `nodes` from the given sources; reads only. Without a lease database (proxy
 * mode: the network's own DHCP server holds the leases) a node is up when its root is mounted.
 */
export async function liveStatus(root: Root, site: SiteModel, inventory: Inventory, nodes: readonly BootNode[], db: LeaseDatabase | undefined, sources: LiveSources, now = new Date()): Promise<LiveStatus> {
  const currents = new Map<string, Promise<RevisionRef | undefined>>()
  const revisions = new Map<string, {image: string | null, behind: number | null}>()
  for (const entry of inventory.nodes) {
    const ref = entry.image ? parseRevisionRef(entry.image) : undefined
    if (ref && !currents.has(ref.image)) currents.set(ref.image, currentRevision(root, site, ref.image))
    const current = ref ? await currents.get(ref.image) : undefined
    revisions.set(entry.name, {image: entry.image ?? null, behind: ref && current ? Math.max(0, current.revision - ref.revision) : null})
  }
  const read = db ? leasesOf(db, await sources.leases(), now) : undefined
  const logs = await sources.fetchLogs()
  const fetches = lastFetches(logs, now)
  const statuses = nodeStatuses(nodes, {
    leases: read?.leases ?? null,
    reservationsRecorded: db?.reservations ?? false,
    nfsClients: nfsClientsIn(await sources.sockets()),
    // Before the boot reports: their views must not count as a client of the root.
    mappedRoots: await mappedRoots(sources, nodes),
    revisions,
    fetches,
    booted: await bootReports(sources, nodes),
  })
  // Against every node of the inventory, not only those asked about.
  const unknown = unknownMachines(inventory.nodes, {leases: read?.leases ?? null, logs, fetches, leaseSeconds: site.lease.default, now})
  return {nodes: statuses, summary: summarize(statuses), unreadableLeases: read?.unreadable ?? [], unknown}
}
