import {ipToNumber} from './address.js'

/**
 * NFS-Ganesha's Export_Id is 16 bits and 0 is the pseudo root's. Node roots take ids below
 * EXTRA_EXPORT_ID_BASE, the site's extra exports count up from it. Ganesha puts the id in every
 * file handle it hands out, so a node's id must stay the same while its address does.
 */
export const EXTRA_EXPORT_ID_BASE = 65_000
export const MAX_EXPORT_ID = 65_535

/**
 * A node's id: the low 16 bits of its address (what pxeroot always used, so ids survive an
 * upgrade), folded into 1..64999 where they would be 0 or an extra export's. Unique within any
 * subnet up to /16 but for its very first and last addresses; inventoryProblems refuses the
 * rare pair of nodes that still share one.
 */
export function nodeExportId(ip: string): number {
  const low16 = ipToNumber(ip) % 65_536
  return low16 % (EXTRA_EXPORT_ID_BASE - 1) || EXTRA_EXPORT_ID_BASE - 1
}
