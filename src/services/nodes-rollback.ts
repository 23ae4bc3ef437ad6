import {applyBootConfig, type ApplyResult} from '../apply/apply.js'
import {InventoryWriter, nodesDirOf, nodesWithRoots, recover} from '../clone/engine.js'
import {refuseInUse} from '../clone/in-use.js'
import {publishKnownHosts} from '../clone/known-hosts.js'
import {rollbackRoot} from '../clone/rollback.js'
import {withSiteLock} from '../config/site-lock.js'
import {loadSite} from '../config/site-file.js'
import {loadInventory} from '../inventory/inventory.js'
import {withStorage} from '../storage/registry.js'
import {type Context} from '../system/context.js'

export interface RollbackResult {
  node: string
  image?: string
  from?: string
  apply?: ApplyResult
}

/** `nodes rollback`: swaps a node's root with its previous one (a second rollback swaps back). */
export async function rollbackNode(ctx: Context, name: string, options: {force?: boolean, reload?: boolean} = {}): Promise<RollbackResult> {
  return withSiteLock(ctx, async () => {
    const site = await loadSite(ctx.root)
    return withStorage(ctx, site, async (storage) => {
      // A node to roll back has a root, so the directory exists: never create it for a refusal.
      const nodesDir = await nodesDirOf(ctx, site, false)
      const {inventory} = await recover(ctx, site, storage, await loadInventory(ctx.root))
      const [node] = await nodesWithRoots(storage, inventory, [name], 'roll back')
      await refuseInUse(ctx.root, site, storage, [node], options.force, 'roll back')
      const writer = new InventoryWriter(ctx, inventory)
      const entry = await rollbackRoot(ctx, storage, nodesDir, node, writer.commit)
      await publishKnownHosts(ctx, site, storage, writer.inventory, [name])
      const apply = await applyBootConfig(ctx, {site, inventory: writer.inventory, reload: options.reload})
      return {node: name, image: entry.image, from: node.image, apply}
    })
  })
}
