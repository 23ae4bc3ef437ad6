/**
 * The lease databases of the DHCP servers pxeroot configures, read for `pxeroot status` and
 * `pxeroot doctor`. Each parser is pure and returns every lease in the file, the newest entry
 * for an address winning, and every entry it could not read with its line, so a damaged file is
 * said, not skipped in silence.
 */
import {promises as fs} from 'node:fs'

import {isIPv4} from '../../config/address.js'
import {type Root} from '../../system/paths.js'

export interface Lease {
  ip: string
  /** Lowercase, colon-separated. */
  mac: string
  /** When the client was last granted or renewed it, where the file says (ISC, Kea). */
  starts?: Date
  /** When the lease runs out; undefined for an infinite one. */
  ends?: Date
  /** Granted and not yet expired or released, as the server's file says. */
  active: boolean
}

/** An entry of a lease file that could not be read: its line (from 1) and why, in words. */
export interface UnreadableEntry {
  line: number
  reason: string
}

/** What a parser makes of one lease file. */
export interface ParsedLeases {
  leases: Lease[]
  unreadable: UnreadableEntry[]
}

export interface LeaseDatabase {
  /**
   * The host paths the daemon keeps its leases in, oldest first: Kea's lease file cleanup (LFC)
   * moves leases not renewed since its last run into `.1` and `.2` files beside the current one.
   */
  files: readonly string[]
  parse(text: string, now: Date): ParsedLeases
  /**
   * Whether a MAC reservation's address shows up as a lease: Kea and dnsmasq record it like any
   * other; ISC dhcpd never writes a fixed-address host to dhcpd.leases.
   */
  reservations: boolean
}

/** A lease file's text and the host path it was read from. */
export interface LeaseFile {
  file: string
  text: string
}

export interface LeaseRead {
  /** The newest entry per address, across the files. */
  leases: Lease[]
  /** Entries that could not be read, by file and line: their machines may show without a lease. */
  unreadable: (UnreadableEntry & {file: string})[]
}

/** The leases of a database's files (oldest first, missing files left out); newest entry per address. */
export function leasesOf(db: LeaseDatabase, files: readonly LeaseFile[], now: Date): LeaseRead {
  const parsed = files.map((f) => ({file: f.file, ...db.parse(f.text, now)}))
  return {
    leases: newestPerAddress(parsed.flatMap((p) => p.leases)),
    unreadable: parsed.flatMap((p) => p.unreadable.map((u) => ({file: p.file, ...u}))),
  }
}

/** Reads a database's files under `root` (those not written yet are left out). */
export async function readLeaseFiles(root: Root, db: LeaseDatabase): Promise<LeaseFile[]> {
  const read = await Promise.all(db.files.map(async (file) => ({file, text: await fs.readFile(root.resolve(file), 'utf8').catch(() => undefined)})))
  return read.filter((r): r is LeaseFile => r.text !== undefined)
}

/** "dhcpd.leases line 31 (the entry is cut short: no closing brace), line 40 (...)", at most `max` entries. */
export function describeUnreadable(unreadable: LeaseRead['unreadable'], max = 5): string {
  const shown = unreadable.slice(0, max)
  const byFile = new Map<string, string[]>()
  for (const u of shown) byFile.set(u.file, [...byFile.get(u.file) ?? [], `line ${u.line} (${u.reason})`])
  const more = unreadable.length - shown.length
  return [...byFile].map(([file, entries]) => `${file} ${entries.join(', ')}`).join('; ') + (more > 0 ? `; and ${more} more` : '')
}

/** Keeps the last entry per address (the files are append-only logs). */
function newestPerAddress(leases: Lease[]): Lease[] {
  return [...new Map(leases.map((l) => [l.ip, l])).values()]
}

const ETHERNET_MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i

/** An ISC time: `W YYYY/MM/DD HH:MM:SS` (UTC), `epoch N` (db-time-format local) or `never`. */
function iscTime(text: string): Date | undefined | 'bad' {
  if (text === 'never') return undefined
  const utc = /^\d (\d{4})\/(\d\d)\/(\d\d) (\d\d):(\d\d):(\d\d)$/.exec(text)
  if (utc) return new Date(Date.UTC(+utc[1], +utc[2] - 1, +utc[3], +utc[4], +utc[5], +utc[6]))
  const epoch = /^epoch (\d+)(?:; #.*)?$/.exec(text)
  return epoch ? new Date(Number(epoch[1]) * 1000) : 'bad'
}

/**
 * ISC dhcpd.leases(5): `lease IP {` at the start of a line, statements ending in `;`, and `}` alone
 * at the start of a line (ends/starts in UTC). An entry is unreadable when it is cut short (a crash
 * or a full disk), its address or MAC is no address, or a time is none. A lease without a
 * `hardware ethernet` line (abandoned, or never bound) has no machine and is left out.
 */
export function parseIscLeases(text: string, now: Date): ParsedLeases {
  const lines = text.split('\n')
  const out: Lease[] = []
  const unreadable: UnreadableEntry[] = []
  for (let i = 0; i < lines.length; i++) {
    if (!/^lease\b/.test(lines[i])) continue
    const head = /^lease (\S+) \{\s*$/.exec(lines[i])
    if (!head) {
      unreadable.push({line: i + 1, reason: `"${lines[i].trim()}" is no lease statement`})
      continue
    }
    let end = i + 1
    while (end < lines.length && lines[end] !== '}' && !/^\S/.test(lines[end])) end++
    if (lines[end] !== '}') {
      unreadable.push({line: i + 1, reason: 'the entry is cut short: no closing brace'})
      i = end - 1
      continue
    }
    const problem = (line: number, reason: string) => unreadable.push({line: line + 1, reason})
    const body = lines.slice(i + 1, end)
    const field = (name: string) => {
      const k = body.findIndex((l) => l.trimStart().startsWith(`${name} `))
      return k < 0 ? undefined : {line: i + 1 + k, value: body[k].trim().slice(name.length + 1).replace(/;$/, '')}
    }
    const ip = head[1]
    const hw = field('hardware ethernet')
    const ends = field('ends')
    const starts = field('starts')
    const endsAt = ends ? iscTime(ends.value) : undefined
    const startsAt = starts ? iscTime(starts.value) : undefined
    const bad = !isIPv4(ip) ? problem(i, `${ip} is no IPv4 address`)
      : hw && !ETHERNET_MAC.test(hw.value) ? problem(hw.line, `hardware ethernet ${hw.value} is no MAC address`)
        : endsAt === 'bad' ? problem(ends!.line, `ends ${ends!.value} is no time`)
          : startsAt === 'bad' ? problem(starts!.line, `starts ${starts!.value} is no time`)
            : undefined
    i = end
    if (bad !== undefined || !hw) continue
    const e = endsAt as Date | undefined
    const state = field('binding state')?.value
    out.push({ip, mac: hw.value.toLowerCase(), starts: startsAt as Date | undefined, ends: e, active: state === 'active' && (!e || e > now)})
  }
  return {leases: newestPerAddress(out), unreadable}
}

/**
 * Kea's memfile CSV: a header, then `address,hwaddr,client_id,valid_lifetime,expire,subnet_id,...,state,...`
 * (expire in epoch seconds; state 0 = default). A row is unreadable when it has fewer fields than
 * the header (cut short), or its address, MAC, expire, lifetime or state is none. A row without a
 * hwaddr (a client known by its client id only) has no machine and is left out.
 */
export function parseKeaLeases(text: string, now: Date): ParsedLeases {
  const lines = text.split('\n')
  const first = lines.findIndex((l) => l.trim() !== '')
  const out: Lease[] = []
  const unreadable: UnreadableEntry[] = []
  if (first < 0) return {leases: [], unreadable}
  const cols = lines[first].trim().split(',')
  const at = (name: string) => cols.indexOf(name)
  if (at('address') < 0 || at('hwaddr') < 0 || at('expire') < 0) {
    return {leases: [], unreadable: [{line: first + 1, reason: 'no header naming address, hwaddr and expire: not a Kea lease file'}]}
  }
  const whole = (v: string | undefined) => v !== undefined && /^\d+$/.test(v)
  for (let i = first + 1; i < lines.length; i++) {
    const row = lines[i].trim()
    if (row === '') continue
    const f = row.split(',')
    const problem = (reason: string) => unreadable.push({line: i + 1, reason})
    if (f.length < cols.length) {
      problem(`${f.length} of the header's ${cols.length} fields: the row is cut short`)
      continue
    }
    const [ip, hw, expire, lifetime] = [f[at('address')], f[at('hwaddr')].toLowerCase(), f[at('expire')], at('valid_lifetime') < 0 ? '0' : f[at('valid_lifetime')]]
    const state = at('state') < 0 ? '0' : f[at('state')]
    if (!isIPv4(ip)) problem(`address ${ip || '(empty)'} is no IPv4 address`)
    else if (hw !== '' && !/^[0-9a-f]{2}(:[0-9a-f]{2})*$/.test(hw)) problem(`hwaddr ${hw} is no hardware address`)
    else if (!whole(expire) || !whole(lifetime) || !whole(state)) problem(`expire ${expire}, valid_lifetime ${lifetime}, state ${state}: each must be a whole number`)
    else if (ETHERNET_MAC.test(hw)) {
      const ends = Number(expire) > 0 ? new Date(Number(expire) * 1000) : undefined
      // Kea keeps the client's last transmission time as expire - valid_lifetime.
      const starts = ends ? new Date((Number(expire) - Number(lifetime)) * 1000) : undefined
      out.push({ip, mac: hw, starts, ends, active: Number(state) === 0 && (!ends || ends > now)})
    }
  }
  return {leases: newestPerAddress(out), unreadable}
}

/**
 * dnsmasq's lease file: `EXPIRY MAC IP HOSTNAME CLIENT-ID` (expiry epoch seconds, 0 = infinite;
 * `*` for no hostname or client id); after a `duid` line come DHCPv6 leases, left out. A line is
 * unreadable when it has fewer than five fields (cut short) or its expiry, MAC or address is none.
 * A MAC with a hardware-type prefix (`20-...`, InfiniBand) is no Ethernet card's and is left out.
 */
export function parseDnsmasqLeases(text: string, now: Date): ParsedLeases {
  const out: Lease[] = []
  const unreadable: UnreadableEntry[] = []
  let v6 = false
  text.split('\n').forEach((raw, i) => {
    const f = raw.trim().split(/\s+/)
    if (f[0] === '') return
    if (f[0] === 'duid') {
      v6 = true
      return
    }
    const problem = (reason: string) => unreadable.push({line: i + 1, reason})
    if (v6 && f.length >= 3 && f[2].includes(':')) return
    const [expiry, mac, ip] = f
    if (f.length < 5) problem(`${f.length} of 5 fields: the line is cut short`)
    else if (!/^\d+$/.test(expiry)) problem(`expiry ${expiry} is no time`)
    else if (!isIPv4(ip)) problem(`${ip} is no IPv4 address`)
    else if (!/^([0-9a-f]{2}-)?[0-9a-f]{2}(:[0-9a-f]{2})*$/i.test(mac)) problem(`${mac} is no hardware address`)
    else if (ETHERNET_MAC.test(mac)) {
      const ends = Number(expiry) > 0 ? new Date(Number(expiry) * 1000) : undefined
      out.push({ip, mac: mac.toLowerCase(), ends, active: !ends || ends > now})
    }
  })
  return {leases: newestPerAddress(out), unreadable}
}
