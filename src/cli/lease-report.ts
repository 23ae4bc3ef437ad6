import {describeUnreadable, type LeaseRead} from '../backends/dhcp/leases.js'
import {type UnknownMachine} from '../status/unknown.js'
import {table} from './table.js'

/** The unknown machines `status` shows before pointing at --json for the rest. */
const SHOWN = 10

const when = (iso: string | null) => (iso ? `${iso.slice(0, 10)} ${iso.slice(11, 19)}Z` : '-')

/** Lease entries that could not be read, in one line; empty when all could. */
export function unreadableReport(unreadable: LeaseRead['unreadable']): string {
  if (unreadable.length === 0) return ''
  const n = unreadable.length
  return `leases: ${n} ${n === 1 ? 'entry' : 'entries'} could not be read, so ${n === 1 ? 'its machine' : 'their machines'} may show without a lease: ${describeUnreadable(unreadable)}\n`
}

/** The machines that asked this server for a lease or a boot file but are in no node. */
export function unknownReport(unknown: readonly UnknownMachine[]): string {
  if (unknown.length === 0) return ''
  const rows = unknown.slice(0, SHOWN).map((m) => [m.mac, m.ip ?? '-', when(m.seen), m.asked.slice(0, 3).join(', ')])
  const more = unknown.length - SHOWN
  return `\n${unknown.length} unknown ${unknown.length === 1 ? 'machine' : 'machines'} (in no node; adopt one: pxeroot nodes add NAME --discovered [--mac MAC]):\n`
    + table(['MAC', 'ADDRESS', 'SEEN', 'ASKED FOR'], rows)
    + (more > 0 ? `and ${more} more (pxeroot status --json lists them all)\n` : '')
}
