import {rootServer} from '../boot/nodes.js'
import {chooseServer, serverNamed} from '../config/servers.js'
import {loadSite} from '../config/site-file.js'
import {PreconditionError, UserError} from '../errors.js'
import {type Inventory} from '../inventory/inventory.js'
import {withStorage} from '../storage/registry.js'
import {type Context} from '../system/context.js'
import {claimAddress} from '../system/host.js'
import {changeInventory, type ChangeResult} from './inventory-change.js'

export interface TakeoverOptions {
  /** The server that was lost. */
  lost: string
  /** The server taking over its roots: this one. */
  to: string
  /** Also put the lost server's boot address on this server's boot interface (NFSv3 clients mounted from it carry on). */
  address?: boolean
  dryRun?: boolean
  reload?: boolean
}

export interface TakeoverResult extends ChangeResult {
  lost: string
  to: string
  /** The nodes whose roots this server now holds and exports. */
  moved: string[]
  /** The lost server's address on this server's interface: added, already there, or why not. */
  address?: {cidr: string, iface: string, added: boolean, announced: boolean} | {skipped: string}
}

/**
 * `servers takeover LOST --to THIS`: this server exports the roots the lost server held. It moves
 * which server exports a root, not the root itself: every moved root must be reachable here (on
 * storage both servers reach: attached from the Ceph pool in gateway mode, or a shared disk);
 * one on the lost server's own disk is refused, naming it. The inventory's `server` of those nodes
 * becomes this server and this server's share is applied (their exports added, each with the
 * Export_Id its address gives it on every server, on the same filesystem: an NFSv3 client's file
 * handles stay valid). With --address this server also takes the lost one's boot address, so the
 * nodes already running, which mounted their roots from it, carry on (NFSv3 is stateless: the
 * client retries its requests until the address answers again); new boots get this server's.
 */
export async function takeOver(ctx: Context, options: TakeoverOptions): Promise<TakeoverResult> {
  const loaded = await loadSite(ctx.root)
  const lost = serverNamed(loaded, options.lost, 'LOST')
  const to = serverNamed(loaded, options.to, '--to')
  if (lost.name === to.name) throw new UserError(`--to ${to.name}: that is the lost server; name the server taking over`)
  const site = chooseServer(loaded, {name: ctx.server ?? to.name, isHost: ctx.root.isHost})
  if (site.self !== to.name) throw new UserError(`--to ${to.name}: run the takeover on ${to.name} itself (this run is ${site.self}): it exports the roots and takes the address there`)
  let moved: string[] = []
  // Every step as this server: its share is what apply renders.
  const result = await changeInventory({...ctx, server: to.name}, async (_site, inventory) => {
    moved = inventory.nodes.filter((n) => rootServer(site, n).name === lost.name).map((n) => n.name)
    if (moved.length === 0) throw new UserError(`${lost.name} holds no node's root: nothing to take over (with Kea, DHCP fails over by itself)`)
    const missing = await withStorage(ctx, site, async (storage) => {
      const here = await storage.listRoots()
      return moved.filter((n) => !here.has(n))
    })
    if (missing.length > 0) {
      throw new PreconditionError(`${to.name} cannot reach the roots ${lost.name} held (${missing.join(', ')}): a takeover moves which server exports a root, not the root, and these are on ${lost.name}'s own storage; nothing was changed`,
        `bring ${lost.name} back; or keep roots where every server reaches them (storage.backend: rbd)`)
    }
    return reassigned(inventory, moved, to.name)
  }, {dryRun: options.dryRun, reload: options.reload})
  const prefix = site.net.prefixLength
  let address: TakeoverResult['address']
  if (options.address) {
    const iface = site.dhcp.interface
    if (options.dryRun) address = {skipped: '--dry-run'}
    else if (!ctx.root.isHost) address = {skipped: `--root ${ctx.root.prefix} is not this machine's root`}
    else if (!iface) address = {skipped: 'no boot interface is known for this server (servers[].interface or dhcp.interface)'}
    else address = {cidr: `${lost.address}/${prefix}`, iface, ...await claimAddress(ctx.runner, `${lost.address}/${prefix}`, iface)}
  }
  return {...result, lost: lost.name, to: to.name, moved, ...(address ? {address} : {})}
}

/** The inventory with these nodes' roots held by `server`. */
function reassigned(inventory: Inventory, nodes: readonly string[], server: string): Inventory {
  return {nodes: inventory.nodes.map((n) => (nodes.includes(n.name) ? {...n, server} : n))}
}
