/**
 * Machines that asked this server for a lease or a boot file but are in no node: what an admin
 * adopts with `pxeroot nodes add NAME --discovered` (enlistment, as Warewulf and MAAS call it).
 * Seen in the lease database, in the DHCP servers' syslog lines (a request may get no lease:
 * "no free leases", or a proxy answer), and in TFTP requests for a per-MAC file. Pure.
 */
import {type Lease} from '../backends/dhcp/leases.js'
import {type BootNode} from '../boot/model.js'
import {UserError} from '../errors.js'
import {syslogTime} from './fetches.js'

export interface UnknownMachine {
  /** Lowercase, colon-separated. */
  mac: string
  /** The address its newest lease holds, if it has one. */
  ip: string | null
  /** When it was last seen asking (ISO), if any record says. */
  seen: string | null
  /** What it asked for, newest first: "lease 192.168.0.230", "DHCPDISCOVER: no free leases", "pxelinux.0". */
  asked: string[]
}

/** One request of a machine, from a log line. */
interface Sighting {
  mac: string
  what: string
  at: Date
  /** The address it asked from or was given, where the line says. */
  ip?: string
}

const MAC = '[0-9a-f]{2}(?::[0-9a-f]{2}){5}'
// ISC: "dhcpd[812]: DHCPDISCOVER from 52:54:00:12:34:56 (host) via eth0: network 192.168.0.0/24: no free leases"
//      "dhcpd[812]: DHCPREQUEST for 192.168.0.230 (192.168.0.10) from 52:54:00:12:34:56 via eth0"
const ISC = new RegExp(`dhcpd\\[\\d+\\]: (DHCPDISCOVER|DHCPREQUEST)(?: for (\\d+\\.\\d+\\.\\d+\\.\\d+)(?: \\(\\S+\\))?)? from (${MAC})(?: \\([^)]*\\))? via \\S+?(?::? (.*))?$`, 'i')
// dnsmasq: "dnsmasq-dhcp[90]: DHCPDISCOVER(eth0) 52:54:00:12:34:56", "... 1234 PXE(eth0) 52:54:00:12:34:56 proxy"
const DNSMASQ = new RegExp(`dnsmasq-dhcp\\[\\d+\\]: (?:\\d+ )?(DHCPDISCOVER|DHCPREQUEST|PXE)\\([^)]*\\) (?:(\\d+\\.\\d+\\.\\d+\\.\\d+) )?(${MAC})(?: (.*))?$`, 'i')
// tftpd-hpa: a per-MAC file names the machine ("pxelinux.cfg/01-52-54-00-12-34-56", GRUB's too).
const RRQ_MAC = /in\.tftpd\[\d+\]: RRQ from (?:::ffff:)?(\d+\.\d+\.\d+\.\d+) filename (\S*01-([0-9a-f]{2}(?:-[0-9a-f]{2}){5})\S*)/i

/** The requests of machines in the servers' syslog lines. */
export function sightings(logs: readonly string[], now: Date): Sighting[] {
  const out: Sighting[] = []
  for (const log of logs) {
    for (const line of log.split('\n')) {
      const isc = ISC.exec(line) ?? DNSMASQ.exec(line)
      const rrq = isc ? undefined : RRQ_MAC.exec(line)
      if (!isc && !rrq) continue
      const at = syslogTime(line, now)
      if (!at) continue
      if (isc) {
        const note = isc[4]?.trim().replace(/^network \S+: /, '')
        out.push({mac: isc[3].toLowerCase(), what: note ? `${isc[1]}: ${note}` : isc[1], at, ...(isc[2] ? {ip: isc[2]} : {})})
      } else {
        out.push({mac: rrq![3].replaceAll('-', ':').toLowerCase(), what: rrq![2].replace(/^\/+/, ''), at, ip: rrq![1]})
      }
    }
  }
  return out
}

export interface UnknownSources {
  /** null: no lease database (proxy mode). */
  leases: readonly Lease[] | null
  /** The servers' syslog lines (DHCP requests, TFTP requests). */
  logs: readonly string[]
  /** The last boot file each address fetched. */
  fetches: ReadonlyMap<string, {file: string, at: Date}>
  /** The site's lease time: when a lease file keeps only the end (dnsmasq), it began this long before. */
  leaseSeconds: number
  now: Date
}

/**
 * The machines that are no node: a MAC no node is bound to, whose lease (if any) is not the
 * address of a node bound by address (whatever machine leases that address boots that node).
 * Newest first.
 */
export function unknownMachines(nodes: readonly Pick<BootNode, 'ip' | 'mac'>[], s: UnknownSources): UnknownMachine[] {
  const addressBound = new Set(nodes.filter((n) => !n.mac).map((n) => n.ip))
  const logged = sightings(s.logs, s.now)
  // The machines of address-bound nodes are known by the address they lease or ask for.
  const known = new Set([
    ...nodes.flatMap((n) => (n.mac ? [n.mac.toLowerCase()] : [])),
    ...(s.leases ?? []).filter((l) => addressBound.has(l.ip)).map((l) => l.mac),
    ...logged.filter((x) => x.ip && addressBound.has(x.ip)).map((x) => x.mac),
  ])
  const seen = new Map<string, {ip: string | null, events: {what: string, at?: Date}[]}>()
  const note = (mac: string, what: string, at: Date | undefined) => {
    if (known.has(mac)) return
    const m = seen.get(mac) ?? {ip: null, events: []}
    m.events.push({what, at})
    seen.set(mac, m)
  }
  for (const lease of s.leases ?? []) {
    if (known.has(lease.mac)) continue
    const at = lease.starts ?? (lease.ends ? new Date(lease.ends.getTime() - s.leaseSeconds * 1000) : undefined)
    note(lease.mac, `lease ${lease.ip}${lease.active ? '' : ' (expired or released)'}`, at)
    const m = seen.get(lease.mac)!
    m.ip = lease.ip
    const fetch = s.fetches.get(lease.ip)
    if (fetch) note(lease.mac, fetch.file, fetch.at)
  }
  for (const x of logged) note(x.mac, x.what, x.at)
  const time = (at?: Date) => at?.getTime() ?? -Infinity
  return [...seen].map(([mac, m]): UnknownMachine => {
    const events = [...m.events].sort((a, b) => time(b.at) - time(a.at))
    const newest = events.find((e) => e.at)?.at
    return {mac, ip: m.ip, seen: newest?.toISOString() ?? null, asked: [...new Set(events.map((e) => e.what))]}
  }).sort((a, b) => (b.seen ?? '').localeCompare(a.seen ?? '') || a.mac.localeCompare(b.mac))
}

/** How close to the newest another unknown machine must have been seen for `--discovered` to
 * refuse to guess: enlisting is one machine powered on at a time, and several in the same hour
 * cannot be told apart from here. */
export const DISCOVERED_WINDOW_MS = 3_600_000

function listed(unknown: readonly UnknownMachine[]): string {
  return unknown.slice(0, 5).map((m) => `${m.mac}${m.ip ? ` (${m.ip})` : ''} seen ${m.seen ?? 'at an unknown time'}`).join(', ') + (unknown.length > 5 ? `, and ${unknown.length - 5} more` : '')
}

/**
 * The machine `nodes add NAME --discovered [--mac MAC]` adopts: the one with that MAC among the
 * unknown ones, or else the one seen last when no other was seen within DISCOVERED_WINDOW_MS
 * before it. Refuses, listing them, when that does not name one machine.
 */
export function pickDiscovered(unknown: readonly UnknownMachine[], mac?: string): UnknownMachine {
  if (unknown.length === 0) {
    throw new UserError('--discovered: no machine outside the inventory has asked this server for a lease or a boot file',
      'power the machine on so that it PXE-boots, then run this again ("pxeroot status" lists what was seen); or bind it with --mac alone')
  }
  if (mac !== undefined) {
    const wanted = mac.toLowerCase().replaceAll('-', ':')
    const found = unknown.find((m) => m.mac === wanted)
    if (!found) throw new UserError(`--discovered --mac ${mac}: no unknown machine with this MAC was seen; seen: ${listed(unknown)}`, 'pick one of these, or drop --discovered to bind a MAC that was not seen')
    return found
  }
  const [newest, next] = unknown
  const time = (m: UnknownMachine) => (m.seen ? Date.parse(m.seen) : Number.NaN)
  const close = next !== undefined && !(time(newest) - time(next) >= DISCOVERED_WINDOW_MS)
  if (close) {
    throw new UserError(`--discovered: ${unknown.length} unknown machines were seen, too close together to tell which is meant: ${listed(unknown)}`,
      'pick one with --discovered --mac MAC ("pxeroot status" lists them with what each asked for)')
  }
  return newest
}
