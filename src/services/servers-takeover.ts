import {rootServer} from '../boot/nodes.js'
import {chooseServer, serverNamed} from '../config/servers.js'
import {loadSite} from '../config/site-file.js'
import {PreconditionError, UserError} from '../errors.js'
import {type Inventory} from '../inventory/inventory.js'
import {fetchRecord, PROBE_S} from '../servers/probe.js'
import {fence, type FenceDone, type FencePlan, planFence} from '../storage/rbd/fence.js'
import {attachGateway, detachGateway} from '../storage/rbd/gateway.js'
import {withStorage} from '../storage/registry.js'
import {type Context} from '../system/context.js'
import {claimAddress, localAddresses} from '../system/host.js'
import {type Runner} from '../system/runner.js'
import {probeRunner} from './servers-list.js'
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
  /** Take over even though the lost server answers (it is fenced all the same). */
  force?: boolean
  /** What asks whether the lost server is up, as a node reaches it (the lab's namespace); default: this machine, not under --root. */
  probe?: Runner
}

/** Whether the lost server answered before the takeover. */
export type Liveness = {asked: false, why: string} | {asked: true, address: string, up: boolean, forced?: boolean}

/** An rbd gateway's takeover: whom it fenced (or would), and the roots it attached here. */
export interface TakeoverFence {
  /** Per node: the clients that held or watched its clone. */
  targets: FencePlan['targets']
  skipped: FencePlan['skipped']
  /** The addresses blocklisted (would be, on a dry run). */
  addresses: string[]
  /** Done: what was blocklisted, for how long, and the locks broken; absent on a dry run. */
  done?: FenceDone
  /** Roots attached here by the takeover itself (under --root; on the server, apply attaches them). */
  attached: string[]
}

export interface TakeoverResult extends ChangeResult {
  lost: string
  to: string
  /** The nodes whose roots this server now holds and exports. */
  moved: string[]
  liveness: Liveness
  /** rbd gateway mode: the fence of the lost server's clients. */
  fence?: TakeoverFence
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
 *
 * The lost server must be lost: one that still answers (its TFTP server, as `servers list` asks)
 * is refused unless `force`, since it would go on writing the roots too. On an rbd gateway the
 * lost server's clients of the moved clones are fenced first (storage/rbd/fence.ts: blocklisted,
 * their locks broken), then the clones are attached here and exported. A cluster that does not
 * answer is refused (exit 3) with nothing attached and the inventory as it was.
 */
export async function takeOver(ctx: Context, options: TakeoverOptions): Promise<TakeoverResult> {
  const loaded = await loadSite(ctx.root)
  const lost = serverNamed(loaded, options.lost, 'LOST')
  const to = serverNamed(loaded, options.to, '--to')
  if (lost.name === to.name) throw new UserError(`--to ${to.name}: that is the lost server; name the server taking over`)
  const site = chooseServer(loaded, {name: ctx.server ?? to.name, isHost: ctx.root.isHost})
  if (site.self !== to.name) throw new UserError(`--to ${to.name}: run the takeover on ${to.name} itself (this run is ${site.self}): it exports the roots and takes the address there`)
  const liveness = await askLost(ctx, options, lost.name, lost.address)
  const gateway = site.storage.backend === 'rbd' && site.storage.rbd?.mode === 'gateway'
  const here = {...ctx, server: to.name}
  let moved: string[] = []
  let fenced: TakeoverFence | undefined
  // Every step as this server: its share is what apply renders.
  const change = changeInventory(here, async (_site, inventory) => {
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
    if (gateway) {
      // Fenced before anything is attached here: from then on the lost server's clients cannot write.
      const plan = await planFence(here, site, moved)
      fenced = {targets: plan.targets, skipped: plan.skipped, addresses: plan.addresses, attached: []}
      if (!options.dryRun) {
        fenced.done = await fence(here, site, plan)
        // On the server apply attaches them through the units it writes; elsewhere (--root) there are none.
        if (!ctx.root.isHost) for (const {node} of plan.targets) if (await attachGateway(here, site, node)) fenced.attached.push(node)
      }
    }
    return reassigned(inventory, moved, to.name)
  }, {dryRun: options.dryRun, reload: options.reload})
  const result = await change.catch(async (error: unknown) => {
    // A takeover refused after the fence leaves none of the roots attached here (the fence stays: it names dead clients).
    if (fenced?.done) for (const {node} of fenced.targets) await detachGateway(here, site, node).catch(() => undefined)
    throw error
  })
  const prefix = site.net.prefixLength
  let address: TakeoverResult['address']
  if (options.address) {
    const iface = site.dhcp.interface
    if (options.dryRun) address = {skipped: '--dry-run'}
    else if (!ctx.root.isHost) address = {skipped: `--root ${ctx.root.prefix} is not this machine's root`}
    else if (!iface) address = {skipped: 'no boot interface is known for this server (servers[].interface or dhcp.interface)'}
    else address = {cidr: `${lost.address}/${prefix}`, iface, ...await claimAddress(ctx.runner, `${lost.address}/${prefix}`, iface)}
  }
  return {...result, lost: lost.name, to: to.name, moved, liveness, ...(fenced ? {fence: fenced} : {}), ...(address ? {address} : {})}
}

/**
 * Asks the lost server's TFTP server, as `servers list` does and as a node reaches it; one that
 * answers (with its record or without) is up. Refused then, changing nothing, unless forced.
 */
async function askLost(ctx: Context, options: TakeoverOptions, name: string, address: string): Promise<Liveness> {
  const runner = options.probe ?? probeRunner(ctx)
  if (!runner) return {asked: false, why: `--root ${ctx.root.prefix}: the site's addresses are not this machine's network's`}
  // Taken over with --address before: what answers there is this server.
  if (!options.probe && localAddresses().includes(address)) return {asked: false, why: `this server holds ${address} (an earlier takeover's --address)`}
  const up = await fetchRecord(runner, address) !== 'unreachable'
  if (up && !options.force) {
    throw new PreconditionError(`${name} is not lost: its TFTP server at ${address} answered within ${PROBE_S} s, so it is up and may still write the roots it holds; two servers writing one root corrupt its ext4; nothing was changed`,
      `stop ${name} (or cut it off) first; to take over from a server that is up anyway, add --force (its clients of the roots are fenced all the same on an rbd gateway)`)
  }
  return {asked: true, address, up, ...(up ? {forced: true} : {})}
}

/** The inventory with these nodes' roots held by `server`. */
function reassigned(inventory: Inventory, nodes: readonly string[], server: string): Inventory {
  return {nodes: inventory.nodes.map((n) => (nodes.includes(n.name) ? {...n, server} : n))}
}
