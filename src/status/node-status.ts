import {type Lease} from '../backends/dhcp/leases.js'
import {type BootNode} from '../boot/model.js'
import {type BootReport} from '../images/boot-report.js'

/**
 * Up: the node holds its lease and its root is mounted (where the server records no lease for it,
 * its root mounted is enough). Leased: it holds its address but its root is not mounted (booting,
 * or stuck before the NFS mount). Mounted: its root is mounted but no lease says so. Down: neither.
 * An NFS root is mounted while its address has a connection to the NFS server; a root the node
 * maps itself (RBD) while the cluster has a client of it (a watcher).
 */
export type NodeState = 'up' | 'leased' | 'mounted' | 'down'

export interface NodeStatus {
  name: string
  ip: string
  binding: 'mac' | 'ip'
  /** The MAC the node is bound to (MAC-bound nodes only). */
  mac: string | null
  state: NodeState
  /** The active lease of the node's address, whoever holds it. */
  lease: {mac: string, ends: string | null} | null
  /** Whether the DHCP server records this node's lease at all: not in proxy mode (the network's server holds it), nor for ISC dhcpd's MAC reservations. */
  leaseRecorded: boolean
  rootMounted: boolean
  /** The revision its root was cloned from, and how many revisions it is behind its image's current one. */
  image: string | null
  behind: number | null
  /** The last boot file this address fetched, where the server logs it. */
  lastFetch: {file: string, at: string} | null
  /** What the node itself last reported from its current root (images/boot-report.ts): the revision it booted, its boot id and when; null when that root holds no report. */
  booted: {revision: string | null, bootId: string, at: string | null} | null
  /** What an operator should look at, in words. */
  problems: string[]
  /** On a site with several servers: the one that holds its root; `rootElsewhere` when that is another than this one (whose NFS connections this status cannot see). */
  server?: string
  rootElsewhere?: true
}

export interface LiveState {
  /** null: no lease database to read (proxy mode); a node is then up when its root is mounted. */
  leases: readonly Lease[] | null
  /** false: the database leaves out MAC reservations (ISC dhcpd's fixed-address hosts), so a MAC-bound node's lease is not known either. Default true. */
  reservationsRecorded?: boolean
  /** Addresses with an NFS connection now. */
  nfsClients: ReadonlySet<string>
  /** Nodes whose RBD root is mapped now (its clone has a watcher). */
  mappedRoots?: ReadonlySet<string>
  revisions: ReadonlyMap<string, {image: string | null, behind: number | null}>
  fetches?: ReadonlyMap<string, {file: string, at: Date}>
  /** Each node's boot report, by name (absent: none in its root). */
  booted?: ReadonlyMap<string, BootReport>
}

/** Each node's live state and its problems, from what the servers report; pure. */
export function nodeStatuses(nodes: readonly BootNode[], live: LiveState): NodeStatus[] {
  const known = live.leases !== null
  const active = (live.leases ?? []).filter((l) => l.active)
  const byIp = new Map(active.map((l) => [l.ip, l]))
  const macOwner = new Map(nodes.flatMap((n) => (n.mac ? [[n.mac, n.name] as const] : [])))
  const nodeByIp = new Map(nodes.map((n) => [n.ip, n.name]))
  return nodes.map((node) => {
    const lease = byIp.get(node.ip)
    const mounted = node.root.kind === 'rbd' ? live.mappedRoots?.has(node.name) ?? false : live.nfsClients.has(node.ip)
    // A root another server holds is mounted from there: this server judges the node by its lease alone.
    const elsewhere = node.server !== undefined && node.root.kind === 'nfs' && !node.exportedHere
    const recorded = known && (!node.mac || live.reservationsRecorded !== false)
    const problems: string[] = []
    const leasedByNode = lease !== undefined && (!node.mac || lease.mac === node.mac)
    if (lease && node.mac && lease.mac !== node.mac) {
      problems.push(`${node.ip} is leased to ${lease.mac}, not to ${node.name}'s ${node.mac}: another machine has its address`)
    } else if (lease && !node.mac && macOwner.has(lease.mac) && macOwner.get(lease.mac) !== node.name) {
      problems.push(`${node.ip} is leased to ${lease.mac}, which is ${macOwner.get(lease.mac)}'s MAC: that machine boots ${node.name}'s root`)
    }
    if (lease && !node.mac) {
      const others = active.filter((l) => l.mac === lease.mac && l.ip !== node.ip && nodeByIp.has(l.ip)).map((l) => nodeByIp.get(l.ip))
      if (others.length > 0) problems.push(`the machine ${lease.mac} also holds the address of ${others.join(', ')}`)
    }
    if (recorded && node.mac && !lease && !mounted) problems.push(`no lease for ${node.mac}: powered off, or its DHCP requests do not reach this server`)
    if (recorded && mounted && !lease) {
      const by = node.root.kind === 'rbd' ? `${node.name}'s RBD root is mapped (a client of the cluster holds it) but ${node.ip} has` : `root mounted by ${node.ip} but`
      problems.push(`${by} no active lease: the lease expired, or another DHCP server answered`)
    }
    const state: NodeState = elsewhere ? (leasedByNode ? 'up' : 'down') : (leasedByNode || !recorded) && mounted ? 'up' : leasedByNode ? 'leased' : mounted ? 'mounted' : 'down'
    const revision = live.revisions.get(node.name)
    const fetch = live.fetches?.get(node.ip)
    const booted = live.booted?.get(node.name)
    return {
      name: node.name,
      ip: node.ip,
      binding: node.mac ? 'mac' : 'ip',
      mac: node.mac ?? null,
      state,
      lease: lease ? {mac: lease.mac, ends: lease.ends?.toISOString() ?? null} : null,
      leaseRecorded: recorded,
      rootMounted: mounted,
      image: revision?.image ?? null,
      behind: revision?.behind ?? null,
      lastFetch: fetch ? {file: fetch.file, at: fetch.at.toISOString()} : null,
      booted: booted ? {revision: booted.revision ?? null, bootId: booted.bootId, at: booted.at ?? null} : null,
      problems,
      ...(node.server ? {server: node.server} : {}),
      ...(elsewhere ? {rootElsewhere: true as const} : {}),
    }
  })
}

export interface StatusSummary {
  up: number
  leased: number
  mounted: number
  down: number
  /** Nodes with at least one problem. */
  flagged: number
}

export function summarize(statuses: readonly NodeStatus[]): StatusSummary {
  const count = (s: NodeState) => statuses.filter((n) => n.state === s).length
  return {up: count('up'), leased: count('leased'), mounted: count('mounted'), down: count('down'), flagged: statuses.filter((n) => n.problems.length > 0).length}
}

/** "41 up, 2 leased but no root mounted, 5 down". */
export function summaryLine(s: StatusSummary): string {
  const parts = [`${s.up} up`]
  if (s.leased > 0) parts.push(`${s.leased} leased but no root mounted`)
  if (s.mounted > 0) parts.push(`${s.mounted} root mounted without a lease`)
  parts.push(`${s.down} down`)
  return parts.join(', ') + (s.flagged > 0 ? ` (${s.flagged} with problems)` : '')
}
