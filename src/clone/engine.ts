import {availableParallelism} from 'node:os'
import path from 'node:path'

import {type SiteModel} from '../config/site.js'
import {UserError} from '../errors.js'
import {formatRevisionRef, nodeRootDir, revisionRootfs, type RevisionRef} from '../images/layout.js'
import {resolveRevision} from '../images/revision-ref.js'
import {existingAncestor, mib, requireSpace} from '../images/space.js'
import {saveInventory, type Inventory, type InventoryNode} from '../inventory/inventory.js'
import {type Context} from '../system/context.js'
import {isDirectory} from '../system/files.js'
import {mapBounded, serial} from '../system/pool.js'
import {copyTree} from '../system/trees.js'
import {cloneCost, treeUsage} from './disk.js'
import {resumeSwitches, upsertNode} from './journal.js'
import {type CloneMethod} from './method.js'
import {cleanLeftovers, removeRoot, tempRootName} from './remove.js'

/**
 * What clone, rebase, rollback and prune share: where roots live, finishing what a killed run
 * left, the space check, cloning into a temp name, the bulk loop and the serialised inventory
 * saves. Each operation on one root lives in its own module; the workflows in src/services/.
 */

/** The on-disk nodes directory (the site's paths.nodes), created when asked. */
export async function nodesDirOf(ctx: Context, site: SiteModel, create: boolean): Promise<string> {
  const dir = ctx.root.resolve(site.paths.nodes)
  if (create) await ctx.files.mkdir(dir, 0o755)
  return dir
}

export interface Recovered {
  inventory: Inventory
  /** Interrupted switches finished and leftovers removed before this run. */
  recovered: string[]
  cleaned: string[]
}

/** Finishes interrupted switches and removes leftovers; the first thing every root-changing run does. */
export async function recover(ctx: Context, site: SiteModel, inventory: Inventory): Promise<Recovered> {
  const nodesDir = await nodesDirOf(ctx, site, false)
  const {inventory: inv, resumed} = await resumeSwitches(ctx.files, nodesDir, inventory, ctx.log, (i) => saveInventory(ctx, i))
  const cleaned = await cleanLeftovers(ctx, nodesDir, ctx.log)
  for (const name of cleaned) ctx.log(`removed leftover ${path.join(site.paths.nodes, name)}`)
  return {inventory: inv, recovered: resumed, cleaned}
}

/** A revision roots are cloned from: its name@N and its rootfs on disk. */
export interface CloneSource {
  ref: RevisionRef
  refText: string
  rootfs: string
}

export async function resolveSource(ctx: Context, site: SiteModel, image: string | undefined): Promise<CloneSource> {
  const ref = await resolveRevision(ctx.root, site, image ?? site.boot.image, '--image')
  return {ref, refText: formatRevisionRef(ref), rootfs: ctx.root.resolve(revisionRootfs(site, ref))}
}

export interface SpaceCheck {
  needed: number
  free: number
  /** The source has sparse files; rsync then keeps holes at some cost. */
  sparse: boolean
}

/** Checks that `n` clones of `source` fit, before anything is created (exit 3 when not). */
export async function checkCloneSpace(source: string, dir: string, method: CloneMethod, n: number, what: string): Promise<SpaceCheck> {
  // Unknown, so assumed, for snapshots (which keep holes anyway): the walk costs more than it tells.
  const usage = method === 'btrfs' ? {entries: 0, bytes: 0, sparseFiles: 1} : await treeUsage(source)
  const cost = cloneCost(method, usage)
  const needed = cost.bytes * n
  // Leave 5 % or 64 MiB so the filesystem is not run to the last block.
  const margin = Math.max(64 << 20, Math.round(needed * 0.05))
  const at = await existingAncestor(dir)
  const free = await requireSpace(at, {bytes: needed + margin, inodes: cost.entries * n, says: `${n} ${method} clone(s) need about ${mib(needed + margin)}`}, what,
    'free space, clone fewer nodes, or keep images and nodes on one btrfs or xfs (reflink) filesystem ("pxeroot storage prepare")')
  return {needed, free: free.bytes, sparse: usage.sparseFiles > 0}
}

/**
 * Clones run at once. `cp --reflink` and rsync keep a core busy each (rsync's sender and
 * receiver share one copy's work), so more of them than cores only adds switching: on 2 cores,
 * 10 clones took 1.8 s reflink / 15.5 s rsync 2 at a time, 2.0–2.2 s / 18 s 4 at a time, and
 * 2.4 s / 22 s one at a time. A full copy by copy_file_range is bound by the disk, where two
 * streams only seek against each other (4 copies: 10.0 s one at a time, 13.0 s two at a time):
 * one at a time. Snapshots cost nothing; their key generation keeps the setting.
 */
export function cloneConcurrency(method: CloneMethod, configured: number, cores = availableParallelism()): number {
  if (method === 'btrfs') return configured
  if (method === 'copy') return 1
  return Math.max(1, Math.min(configured, cores))
}

export interface TempRootOptions {
  method: CloneMethod
  source: string
  nodesDir: string
  name: string
  sparse: boolean
}

/** Clones into a temp name beside the target and fills it; removes it again when anything fails. */
export async function cloneToTemp(ctx: Context, o: TempRootOptions, fill: (temp: string) => Promise<void>): Promise<string> {
  const temp = tempRootName(o.nodesDir, o.name, 'clone')
  try {
    await copyTree(ctx.runner, o.method, o.source, temp, {sparse: o.sparse, signal: ctx.signal})
    await fill(temp)
    return temp
  } catch (error) {
    await removeRoot(ctx, o.nodesDir, temp).catch(() => undefined)
    throw error
  }
}

/**
 * The inventory as parallel root switches finish: each switch commits its node's entry, and the
 * saves are serialised (switches of different nodes touch different names; only this is shared).
 */
export class InventoryWriter {
  private readonly save = serial()

  constructor(private readonly ctx: Context, public inventory: Inventory) {}

  commit = (entry: InventoryNode): Promise<void> => this.commitAll([entry])

  /** Several entries in one save (a group of switches, see switchInBatches). */
  commitAll = (entries: readonly InventoryNode[]): Promise<void> => this.save(async () => {
    this.inventory = entries.reduce(upsertNode, this.inventory)
    await saveInventory(this.ctx, this.inventory)
  })
}

export interface BulkOutcome<R> {
  done: R[]
  failed: {name: string, error: string}[]
}

/** The bulk loop of clone and rebase: at most `limit` at once, every item tried, an interrupt stops new ones. */
export async function forEachNode<T extends {name: string}, R>(ctx: Context, items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<BulkOutcome<R>> {
  const outcomes = await mapBounded(items, limit, async (item) => {
    ctx.signal.throwIfAborted()
    return fn(item)
  })
  return {
    done: outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : [])),
    failed: outcomes.flatMap((o, i) => (o.status === 'rejected' ? [{name: items[i].name, error: (o.reason as Error).message}] : [])),
  }
}

export function describeFailures(failed: readonly {name: string, error: string}[]): string {
  return failed.map((f) => `${f.name}: ${f.error}`).join('; ')
}

/** The inventory entries named (or all), each required to have a root unless taking all. */
export async function nodesWithRoots(ctx: Context, site: SiteModel, inventory: Inventory, names: readonly string[] | 'all', verb: string): Promise<InventoryNode[]> {
  const picked = names === 'all' ? [...inventory.nodes] : names.map((name) => {
    const node = inventory.nodes.find((n) => n.name === name)
    if (!node) throw new UserError(`NODE: ${name} is not in the inventory`, 'see "pxeroot nodes list"')
    return node
  })
  const out: InventoryNode[] = []
  for (const node of picked) {
    if (await isDirectory(ctx.root.resolve(nodeRootDir(site, node.name)))) out.push(node)
    else if (names !== 'all') throw new UserError(`${node.name} has no root to ${verb}`, 'create it with "pxeroot nodes clone"')
  }
  return out
}
