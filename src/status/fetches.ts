/**
 * The last boot file each address fetched, from the servers' logs: tftpd-hpa's RRQ lines as
 * syslog writes them, and a web server's access log in the common/combined format. Pure.
 */
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']

/** A syslog line's time: RFC 3339 (rsyslog's default on Debian 12) or the classic "Nov 27 15:17:07". */
export function syslogTime(line: string, now: Date): Date | undefined {
  const iso = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d))\s/.exec(line)
  if (iso) return new Date(iso[1])
  // Classic syslog has no year: the most recent such moment not in the future.
  const bsd = /^([A-Z][a-z]{2}) +(\d{1,2}) (\d\d):(\d\d):(\d\d)\s/.exec(line)
  if (!bsd) return undefined
  const month = MONTHS.indexOf(bsd[1])
  let at = new Date(now.getFullYear(), month, +bsd[2], +bsd[3], +bsd[4], +bsd[5])
  if (at > now) at = new Date(now.getFullYear() - 1, month, +bsd[2], +bsd[3], +bsd[4], +bsd[5])
  return at
}

function accessTime(stamp: string): Date | undefined {
  const m = /^(\d\d)\/([A-Z][a-z]{2})\/(\d{4}):(\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)$/.exec(stamp)
  if (!m) return undefined
  const utc = Date.UTC(+m[3], MONTHS.indexOf(m[2]), +m[1], +m[4], +m[5], +m[6])
  const offset = (m[7] === '-' ? -1 : 1) * (+m[8] * 60 + +m[9]) * 60_000
  return new Date(utc - offset)
}

export function lastFetches(logs: readonly string[], now: Date): Map<string, {file: string, at: Date}> {
  const out = new Map<string, {file: string, at: Date}>()
  const note = (ip: string, file: string, at: Date | undefined) => {
    if (!at) return
    const before = out.get(ip)
    if (!before || before.at <= at) out.set(ip, {file, at})
  }
  for (const log of logs) {
    for (const line of log.split('\n')) {
      const rrq = /in\.tftpd\[\d+\]: RRQ from (?:::ffff:)?(\d+\.\d+\.\d+\.\d+) filename (\S+)/.exec(line)
      if (rrq) {
        note(rrq[1], rrq[2].replace(/^\/+/, ''), syslogTime(line, now))
        continue
      }
      const get = /^(\d+\.\d+\.\d+\.\d+) \S+ \S+ \[([^\]]+)\] "GET (\S+) [^"]*" (\d{3})/.exec(line)
      if (get && get[4].startsWith('2')) note(get[1], get[3].replace(/^\/+/, ''), accessTime(get[2]))
    }
  }
  return out
}
