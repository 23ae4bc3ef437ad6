/**
 * The lease databases of the DHCP servers pxeroot configures, read for `pxeroot status`. Each
 * parser is pure and returns every lease in the file; the newest entry for an address wins.
 */
export interface Lease {
  ip: string
  /** Lowercase, colon-separated. */
  mac: string
  /** When the lease runs out; undefined for an infinite one. */
  ends?: Date
  /** Granted and not yet expired or released, as the server's file says. */
  active: boolean
}

export interface LeaseDatabase {
  /**
   * The host paths the daemon keeps its leases in, oldest first: Kea's lease file cleanup (LFC)
   * moves leases not renewed since its last run into `.1` and `.2` files beside the current one.
   */
  files: readonly string[]
  parse(text: string, now: Date): Lease[]
  /**
   * Whether a MAC reservation's address shows up as a lease: Kea and dnsmasq record it like any
   * other; ISC dhcpd never writes a fixed-address host to dhcpd.leases.
   */
  reservations: boolean
}

/** The leases of a database's files (texts oldest first, missing files left out); newest entry per address. */
export function leasesOf(db: LeaseDatabase, texts: readonly string[], now: Date): Lease[] {
  return newestPerAddress(texts.flatMap((text) => db.parse(text, now)))
}

/** Keeps the last entry per address (the files are append-only logs). */
function newestPerAddress(leases: Lease[]): Lease[] {
  return [...new Map(leases.map((l) => [l.ip, l])).values()]
}

/** ISC dhcpd.leases(5): `lease IP { starts ..; ends W YYYY/MM/DD HH:MM:SS; binding state active; hardware ethernet MAC; }` (UTC). */
export function parseIscLeases(text: string, now: Date): Lease[] {
  const out: Lease[] = []
  for (const m of text.matchAll(/^lease (\d+\.\d+\.\d+\.\d+) \{([^}]*)\}/gm)) {
    const body = m[2]
    const mac = /hardware ethernet ([0-9a-f:]{17});/i.exec(body)?.[1]
    if (!mac) continue
    const endsText = /\bends (?:\d )?(\d{4})\/(\d\d)\/(\d\d) (\d\d):(\d\d):(\d\d);/.exec(body)
    const ends = endsText ? new Date(Date.UTC(+endsText[1], +endsText[2] - 1, +endsText[3], +endsText[4], +endsText[5], +endsText[6])) : undefined
    const state = /^\s*binding state (\w+);/m.exec(body)?.[1]
    out.push({ip: m[1], mac: mac.toLowerCase(), ends, active: state === 'active' && (!ends || ends > now)})
  }
  return newestPerAddress(out)
}

/** Kea's memfile CSV: `address,hwaddr,client_id,valid_lifetime,expire,subnet_id,...,state,...` (expire in epoch seconds; state 0 = default). */
export function parseKeaLeases(text: string, now: Date): Lease[] {
  const [header, ...rows] = text.split('\n').filter((l) => l.trim() !== '')
  const cols = (header ?? '').split(',')
  const at = (name: string) => cols.indexOf(name)
  const out: Lease[] = []
  for (const row of rows) {
    const f = row.split(',')
    const ip = f[at('address')]
    const mac = f[at('hwaddr')]?.toLowerCase()
    if (!ip || !mac) continue
    const expire = Number(f[at('expire')])
    const ends = Number.isFinite(expire) && expire > 0 ? new Date(expire * 1000) : undefined
    const state = Number(f[at('state')] ?? 0)
    out.push({ip, mac, ends, active: state === 0 && (!ends || ends > now)})
  }
  return newestPerAddress(out)
}

/** dnsmasq's lease file: `EXPIRY MAC IP HOSTNAME CLIENT-ID` (expiry epoch seconds, 0 = infinite). */
export function parseDnsmasqLeases(text: string, now: Date): Lease[] {
  const out: Lease[] = []
  for (const line of text.split('\n')) {
    const [expiry, mac, ip] = line.trim().split(/\s+/)
    if (!ip || !/^[0-9a-f:]{17}$/i.test(mac ?? '')) continue
    const ends = Number(expiry) > 0 ? new Date(Number(expiry) * 1000) : undefined
    out.push({ip, mac: mac.toLowerCase(), ends, active: !ends || ends > now})
  }
  return newestPerAddress(out)
}
