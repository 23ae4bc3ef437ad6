import {applyBootConfig, type ApplyResult} from '../apply/apply.js'
import {loadSite} from '../config/site-file.js'
import {withSiteLock} from '../config/site-lock.js'
import {loadInventory} from '../inventory/inventory.js'
import {type Context} from '../system/context.js'

/**
 * After an image's `current` moved (build, update, exec, import, rollback): nodes with no
 * revision of their own boot the site image's current revision, so their boot entries must
 * follow. Nodes cloned from a revision keep booting it (its modules are in their roots).
 */
export async function refreshAfterCurrentMoved(ctx: Context, image: string, options: {locked?: boolean} = {}): Promise<ApplyResult | undefined> {
  const site = await loadSite(ctx.root)
  const inventory = await loadInventory(ctx.root)
  if (site.boot.image !== image || !inventory.nodes.some((n) => !n.image)) return undefined
  const apply = () => applyBootConfig(ctx, {site, inventory})
  const result = await (options.locked ? apply() : withSiteLock(ctx, apply))
  if (result.changes.length > 0) ctx.log(`boot entries updated for nodes that follow ${image}'s current revision`)
  return result
}
