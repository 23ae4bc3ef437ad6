import {InventoryWriter, nodesDirOf, recover} from '../clone/engine.js'
import {prunePrevious} from '../clone/prune.js'
import {withSiteLock} from '../config/site-lock.js'
import {loadSite} from '../config/site-file.js'
import {UserError} from '../errors.js'
import {loadInventory} from '../inventory/inventory.js'
import {type Context} from '../system/context.js'

export interface PruneResult {
  pruned: string[]
  cleaned: string[]
}

/** `nodes prune`: deletes previous roots (of the named nodes, or all) and leftovers of killed runs. */
export async function pruneNodes(ctx: Context, names: string[] | 'all'): Promise<PruneResult> {
  return withSiteLock(ctx, async () => {
    const site = await loadSite(ctx.root)
    const nodesDir = await nodesDirOf(ctx, site, false)
    const rec = await recover(ctx, site, await loadInventory(ctx.root))
    const targets = names === 'all' ? rec.inventory.nodes.map((n) => n.name) : names
    for (const name of targets) {
      if (!rec.inventory.nodes.some((n) => n.name === name)) throw new UserError(`NODE: ${name} is not in the inventory`, 'see "pxeroot nodes list"')
    }
    const writer = new InventoryWriter(ctx, rec.inventory)
    const pruned: string[] = []
    for (const name of targets) {
      const node = writer.inventory.nodes.find((n) => n.name === name)!
      const {pruned: removed, entry} = await prunePrevious(ctx, nodesDir, node)
      if (removed) pruned.push(name)
      if (entry !== node) await writer.commit(entry)
    }
    return {pruned, cleaned: rec.cleaned}
  })
}
