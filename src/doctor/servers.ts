import {noFailoverNotice} from '../config/servers.js'
import {type SiteModel} from '../config/site.js'
import {type Inventory} from '../inventory/inventory.js'
import {haLine, probeServers, type ServerView} from '../servers/probe.js'
import {siteVersion} from '../servers/record.js'
import {rootsByServer} from '../servers/roots.js'
import {type Runner} from '../system/runner.js'
import {type Check} from './check.js'

/**
 * doctor's lines for a site with several servers: whether its DHCP server fails over, and each
 * server as the nodes reach it (reachable, Kea's HA state, the site state it rendered, the roots
 * it holds). `runner` is undefined under --root: the servers are then not asked.
 */
export async function serverChecks(runner: Runner | undefined, site: SiteModel, inventory: Inventory): Promise<Check[]> {
  if (site.servers.length === 0) return []
  const notice = noFailoverNotice(site)
  const failover: Check = notice
    ? {check: 'dhcp failover', status: 'warn', message: notice, fix: 'set backends.dhcp: kea (and dhcp.interface) in the site file, then pxeroot apply --server NAME on each server'}
    : {check: 'dhcp failover', status: 'ok', message: `Kea ${site.servers.length >= 2 ? `HA between ${site.servers[0].name} and ${site.servers[1].name}` : 'on one server: no failover'}`}
  const views = await probeServers(runner, site, siteVersion(site, inventory), rootsByServer(site, inventory))
  return [failover, ...views.map(serverCheck)]
}

function serverCheck(v: ServerView): Check {
  const check = `server ${v.name}`
  const facts = `${v.address}, ${v.role}${v.self ? ' (this server)' : ''}, ${v.roots.length} root(s)`
  if (v.reachable === null) return {check, status: 'skip', message: `${facts}; not asked: --root is set`}
  if (v.problems.length === 0) return {check, status: 'ok', message: `${facts}; reachable, DHCP failover ${haLine(v)}, rendered the current site state`}
  return {check, status: v.reachable ? 'warn' : 'fail', message: `${facts}; ${v.problems.join('; ')}`,
    fix: v.reachable ? `pxeroot apply --server ${v.name} there` : `bring ${v.name} back, or move its roots to another server`}
}
