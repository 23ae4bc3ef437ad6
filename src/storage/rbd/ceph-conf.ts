import {isIPv4} from '../../config/address.js'

/** The port of a monitor's msgr v1 address: the protocol a node's kernel rbd client speaks. */
export const MON_V1_PORT = 6789
const MON_V2_PORT = 3300

/**
 * The monitors a kernel client can use, from ceph.conf's mon_host (pure): every v1 address and
 * every bare address (port 6789 unless given), in order, once each; v2-only addresses are left
 * out. Any of the forms Ceph reads: `10.0.0.1,10.0.0.2`, `10.0.0.1:6789`,
 * `[v2:10.0.0.1:3300,v1:10.0.0.1:6789],[v2:...]`, separated by commas, spaces or semicolons.
 * Returns the names it could not use (host names: a kernel command line needs addresses) too.
 */
export function monitorsFromCephConf(text: string): {monitors: string[], unusable: string[], found: boolean} {
  // A comment starts with "#" or ";" at the start of a line or after a blank (a ";" between addresses is a separator).
  const line = text.split('\n').map((l) => /^\s*mon[ _]host\s*=\s*(.*?)\s*$/i.exec(l.replace(/(^|\s)[#;].*$/, ''))).find(Boolean)
  if (!line) return {monitors: [], unusable: [], found: false}
  const monitors: string[] = []
  const unusable: string[] = []
  for (const raw of line[1].replace(/[[\]]/g, ' ').split(/[\s,;]+/).filter(Boolean)) {
    if (/^v2:/i.test(raw)) continue
    const bare = raw.replace(/^v1:/i, '')
    const m = /^([^:/]+)(?::(\d+))?(?:\/\d+)?$/.exec(bare)
    const port = m?.[2] ? Number(m[2]) : MON_V1_PORT
    if (!m || !isIPv4(m[1])) {
      unusable.push(raw)
      continue
    }
    if (port === MON_V2_PORT && !/^v1:/i.test(raw)) continue
    const mon = `${m[1]}:${port}`
    if (!monitors.includes(mon)) monitors.push(mon)
  }
  return {monitors, unusable, found: true}
}
