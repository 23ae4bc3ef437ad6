import {chooseServer} from '../config/servers.js'
import {loadSite} from '../config/site-file.js'
import {type SiteModel} from '../config/site.js'
import {loadInventory} from '../inventory/inventory.js'
import {probeServers, type ServerView} from '../servers/probe.js'
import {siteVersion} from '../servers/record.js'
import {rootsByServer} from '../servers/roots.js'
import {type Context} from '../system/context.js'
import {type Runner} from '../system/runner.js'

export interface ServersResult {
  /** The site state this server sees (what every server should have rendered). */
  site: string
  servers: ServerView[]
}

/**
 * The site as this run sees it, its own server marked when it is one of them (a listing needs
 * none: it may run from any machine that reaches the servers).
 */
export function siteFromHere(ctx: Context, site: SiteModel): SiteModel {
  try {
    return chooseServer(site, {name: ctx.server, isHost: ctx.root.isHost})
  } catch (error) {
    if (ctx.server !== undefined) throw error
    return site
  }
}

/** The runner that asks the servers, on the host only: under --root the site's addresses are not this machine's network's, and nothing is sent. */
export function probeRunner(ctx: Context): Runner | undefined {
  return ctx.root.isHost ? ctx.runner : undefined
}

/** `servers list`: each server as a node reaches it (TFTP, Kea's HA listener), what it rendered, what it holds. */
export async function listServers(ctx: Context): Promise<ServersResult> {
  const site = siteFromHere(ctx, await loadSite(ctx.root))
  const inventory = await loadInventory(ctx.root)
  const version = siteVersion(site, inventory)
  if (site.servers.length === 0) return {site: version, servers: []}
  return {site: version, servers: await probeServers(probeRunner(ctx), site, version, rootsByServer(site, inventory))}
}
