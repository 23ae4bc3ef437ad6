import {InventoryWriter, recover} from '../clone/engine.js'
import {prunePrevious} from '../clone/prune.js'
import {withSiteLock} from '../config/site-lock.js'
import {loadSite} from '../config/site-file.js'
import {UserError} from '../errors.js'
import {loadInventory} from '../inventory/inventory.js'
import {type SiteModel} from '../config/site.js'
import {type StorageBackend} from '../storage/backend.js'
import {withStorage} from '../storage/registry.js'
import {type Context} from '../system/context.js'

export interface PruneResult {
  pruned: string[]
  cleaned: string[]
}

/** `nodes prune`: deletes previous roots (of the named nodes, or all) and leftovers of killed runs. */
export async function pruneNodes(ctx: Context, names: string[] | 'all'): Promise<PruneResult> {
  return withSiteLock(ctx, async () => {
    const site = await loadSite(ctx.root)
    return withStorage(ctx, site, (storage) => pruneWith(ctx, site, storage, names))
  })
}

async function pruneWith(ctx: Context, site: SiteModel, storage: StorageBackend, names: string[] | 'all'): Promise<PruneResult> {
  const rec = await recover(ctx, site, storage, await loadInventory(ctx.root))
  const targets = names === 'all' ? rec.inventory.nodes.map((n) => n.name) : names
  for (const name of targets) {
    if (!rec.inventory.nodes.some((n) => n.name === name)) throw new UserError(`NODE: ${name} is not in the inventory`, 'see "pxeroot nodes list"')
  }
  const writer = new InventoryWriter(ctx, rec.inventory)
  const pruned: string[] = []
  for (const name of targets) {
    const node = writer.inventory.nodes.find((n) => n.name === name)!
    const {pruned: removed, entry} = await prunePrevious(storage, node)
    if (removed) pruned.push(name)
    if (entry !== node) await writer.commit(entry)
  }
  return {pruned, cleaned: rec.cleaned}
}
