import {UserError} from '../errors.js'
import {localAddresses} from '../system/host.js'
import {haSettings, type SiteModel, type SiteServer} from './site.js'

/**
 * Several boot servers, one site (README "Several boot servers"). Every server renders the same
 * site for itself: its own address is `server` in the model it renders from (forServer), so
 * next-server, boot URLs, the web server's address and Kea's HA peer name are its own, while
 * everything else (nodes, ranges, reservations) is the same on every server.
 */

/**
 * What a server does for DHCP. With Kea: the first two are the HA pair (primary and standby, or
 * primary and secondary when load-balancing), the others backups that receive every lease but
 * answer no one. ISC dhcpd and dnsmasq get no failover from pxeroot: the first server answers
 * DHCP alone (`dhcp`), the others none (`none`).
 */
export type ServerRole = 'primary' | 'standby' | 'secondary' | 'backup' | 'dhcp' | 'none'

export function serverRole(site: SiteModel, name: string): ServerRole {
  const i = site.servers.findIndex((s) => s.name === name)
  if (site.backends.dhcp !== 'kea' || site.servers.length < 2) return i <= 0 ? 'dhcp' : 'none'
  if (i === 0) return 'primary'
  if (i === 1) return haSettings(site).mode === 'load-balancing' ? 'secondary' : 'standby'
  return 'backup'
}

/** Whether the site runs Kea's HA hook: Kea and at least two servers. */
export function haEnabled(site: SiteModel): boolean {
  return site.backends.dhcp === 'kea' && site.servers.length >= 2
}

/** Whether this server runs the site's DHCP server at all (ISC and dnsmasq: the first server only). */
export function servesDhcp(site: SiteModel): boolean {
  return site.servers.length === 0 || serverRole(site, site.self ?? site.servers[0].name) !== 'none'
}

/** A plain line for sites with several servers whose DHCP server has no failover; undefined otherwise. */
export function noFailoverNotice(site: SiteModel): string | undefined {
  if (site.servers.length < 2 || site.backends.dhcp === 'kea') return undefined
  return `backends.dhcp ${site.backends.dhcp} gets no DHCP failover: only ${site.servers[0].name} answers DHCP, and while it is down no node gets an address (the other servers still serve boot files and roots); use backends.dhcp: kea for DHCP failover`
}

/** The server of that name, or a refusal that lists the site's servers. */
export function serverNamed(site: SiteModel, name: string, field = '--server'): SiteServer {
  const found = site.servers.find((s) => s.name === name)
  if (found) return found
  throw new UserError(site.servers.length === 0
    ? `${field} ${name}: the site has one server (server: ${site.server}), not servers`
    : `${field} ${name}: no such server; the site's servers are ${site.servers.map((s) => `${s.name} (${s.address})`).join(', ')}`,
  site.servers.length === 0 ? `leave ${field} out, or list the boot servers in servers: in the site file` : undefined)
}

/** The site as the named server renders it: its address is `server`, its interface the DHCP server's. */
export function forServer(site: SiteModel, name: string): SiteModel {
  const s = serverNamed(site, name)
  return {...site, server: s.address, self: s.name, dhcp: {...site.dhcp, interface: s.interface ?? site.dhcp.interface}}
}

/**
 * The server this run acts as: the one named (--server, PXEROOT_SERVER), else the one whose
 * address this machine holds (only on the host itself: under --root the machine is not the
 * site's). A site with one server is its own.
 */
export function chooseServer(site: SiteModel, options: {name?: string, isHost: boolean, addresses?: () => string[]}): SiteModel {
  if (site.servers.length === 0) {
    if (options.name !== undefined) serverNamed(site, options.name)
    return site
  }
  if (options.name !== undefined) return forServer(site, options.name)
  if (site.self !== undefined) return site
  const held = options.isHost ? new Set((options.addresses ?? localAddresses)()) : new Set<string>()
  const mine = site.servers.filter((s) => held.has(s.address))
  if (mine.length === 1) return forServer(site, mine[0].name)
  const list = site.servers.map((s) => `${s.name} (${s.address})`).join(', ')
  throw new UserError(mine.length > 1
    ? `this machine holds the addresses of several servers (${mine.map((s) => s.name).join(', ')}); say which one this run is for`
    : `the site has several servers (${list}) and ${options.isHost ? 'this machine holds none of their addresses' : '--root is set, so this machine is none of them'}; say which one this run is for`,
  `--server NAME, or PXEROOT_SERVER=NAME`)
}
