import {promises as fs} from 'node:fs'
import path from 'node:path'

import {type SiteModel} from '../config/site.js'
import {UserError} from '../errors.js'
import {formatRevisionRef, type RevisionRef} from '../images/layout.js'
import {resolveRevision} from '../images/revision-ref.js'
import {saveInventory, type Inventory, type InventoryNode} from '../inventory/inventory.js'
import {type CloneMethod, type StorageBackend} from '../storage/backend.js'
import {tempRootName} from '../storage/names.js'
import {type Context} from '../system/context.js'
import {tempBaseOf} from '../system/files.js'
import {mapBounded, serial} from '../system/pool.js'
import {JOURNAL_NAME, resumeSwitches, upsertNode} from './journal.js'

/**
 * What clone, rebase, rollback and prune share: finishing what a killed run left, cloning into a
 * temp name, the bulk loop and the serialised inventory saves. Where roots live is the storage
 * backend's (src/storage/); each operation on one root lives in its own module; the workflows in
 * src/services/.
 */

/** The on-disk nodes directory (the site's paths.nodes: roots or their mount points, and the
 * journals of root switches), created when asked. */
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
export async function recover(ctx: Context, site: SiteModel, storage: StorageBackend, inventory: Inventory): Promise<Recovered> {
  const nodesDir = await nodesDirOf(ctx, site, false)
  const {inventory: inv, resumed} = await resumeSwitches(ctx.files, nodesDir, inventory, ctx.log, (i) => saveInventory(ctx, i), storage)
  const cleaned = [...await removeJournalTemps(ctx, nodesDir), ...await storage.removeLeftovers()]
  for (const name of cleaned) ctx.log(`removed leftover ${path.join(site.paths.nodes, name)}`)
  return {inventory: inv, recovered: resumed, cleaned}
}

/** A journal's temp file (a kill between its write and its rename): never a journal any run relies on. */
async function removeJournalTemps(ctx: Context, nodesDir: string): Promise<string[]> {
  const removed: string[] = []
  for (const e of await fs.readdir(nodesDir, {withFileTypes: true}).catch(() => [])) {
    if (e.isFile() && JOURNAL_NAME.test(tempBaseOf(e.name) ?? '')) {
      await ctx.files.remove(path.join(nodesDir, e.name))
      removed.push(e.name)
    }
  }
  return removed
}

/** A revision roots are cloned from. */
export interface CloneSource {
  ref: RevisionRef
  refText: string
}

export async function resolveSource(ctx: Context, site: SiteModel, image: string | undefined): Promise<CloneSource> {
  const ref = await resolveRevision(ctx, site, image ?? site.boot.image, '--image')
  return {ref, refText: formatRevisionRef(ref)}
}

export interface TempRootOptions {
  source: RevisionRef
  method: CloneMethod
  /** The node (or NAME.previous) the temp root is for. */
  name: string
  sparse: boolean
}

/** Clones into a temp name beside the target and fills it, opened for writing; removes it again
 * when anything fails. Returns the temp name. */
export async function cloneToTemp(storage: StorageBackend, o: TempRootOptions, fill: (dir: string) => Promise<void>): Promise<string> {
  const temp = tempRootName(o.name, 'clone')
  try {
    await storage.cloneRoot(o.source, temp, {method: o.method, sparse: o.sparse})
    const root = await storage.openRoot(temp, {write: true})
    try {
      await fill(root.dir)
    } finally {
      await root.close()
    }
    return temp
  } catch (error) {
    await storage.removeRoot(temp).catch(() => undefined)
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
    // Kept only once saved: entries whose save failed are not carried into the next save.
    const next = entries.reduce(upsertNode, this.inventory)
    await saveInventory(this.ctx, next)
    this.inventory = next
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
export async function nodesWithRoots(storage: StorageBackend, inventory: Inventory, names: readonly string[] | 'all', verb: string): Promise<InventoryNode[]> {
  const picked = names === 'all' ? [...inventory.nodes] : names.map((name) => {
    const node = inventory.nodes.find((n) => n.name === name)
    if (!node) throw new UserError(`NODE: ${name} is not in the inventory`, 'see "pxeroot nodes list"')
    return node
  })
  const out: InventoryNode[] = []
  for (const node of picked) {
    if (await storage.rootExists(node.name)) out.push(node)
    else if (names !== 'all') throw new UserError(`${node.name} has no root to ${verb}`, 'create it with "pxeroot nodes clone"')
  }
  return out
}
