import {describeUnreadable, leasesOf, readLeaseFiles} from '../backends/dhcp/leases.js'
import {DHCP_SERVERS} from '../backends/registry.js'
import {type Check, type Facts} from './check.js'

/**
 * The active DHCP server's lease database read as `pxeroot status` reads it: every entry that
 * cannot be read is named by file and line (a crash or a full disk cuts an entry short; ISC
 * dhcpd then refuses to start), instead of its machine quietly showing without a lease.
 */
export async function leaseFiles({ctx, site}: Pick<Facts, 'ctx' | 'site'>, now = new Date()): Promise<Check[]> {
  if (site.dhcp.mode === 'proxy') return [{check: 'leases', status: 'skip', message: 'dhcp.mode: proxy: the network\'s own DHCP server holds the leases'}]
  const db = DHCP_SERVERS[site.backends.dhcp].leases
  if (!db) return []
  const files = await readLeaseFiles(ctx.root, db)
  if (files.length === 0) return [{check: 'leases', status: 'skip', message: `no lease file yet (${db.files.at(-1)}): no machine has leased an address`}]
  const {leases, unreadable} = leasesOf(db, files, now)
  const where = files.map((f) => f.file).join(', ')
  if (unreadable.length === 0) return [{check: 'leases', status: 'ok', message: `${leases.length} lease(s) read from ${where}`}]
  return [{
    check: 'leases',
    status: 'warn',
    message: `${unreadable.length} of the entries in ${where} could not be read: ${describeUnreadable(unreadable)}`,
    fix: 'look at the lines named: a crash or a full disk cuts an entry short (ISC dhcpd refuses to start on a damaged dhcpd.leases; move the broken entry out with the server stopped); until then "pxeroot status" shows those machines without a lease',
  }]
}
