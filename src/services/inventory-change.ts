import {applyBootConfig, type ApplyResult} from '../apply/apply.js'
import {withSiteLock} from '../config/site-lock.js'
import {unifiedDiff} from '../apply/plan.js'
import {type Context} from '../system/context.js'
import {chooseServer} from '../config/servers.js'
import {loadSite} from '../config/site-file.js'
import {type SiteModel} from '../config/site.js'
import {STATE} from '../system/paths.js'
import {REVISION_REF} from '../config/names.js'
import {requireBootableRevision} from '../images/revision-ref.js'
import {assertValidInventory, loadInventory, saveInventory, serializeInventory, type Inventory} from '../inventory/inventory.js'

export interface ChangeOptions {
  dryRun?: boolean
  reload?: boolean
  /** Runs under the same lock once the boot files and inventory are written (not on a dry run). */
  afterSave?: (site: SiteModel, before: Inventory, after: Inventory) => Promise<void>
}

export interface ChangeResult extends ApplyResult {
  inventory: Inventory
}

/**
 * Changes the inventory and the boot files together, under the site lock: the new inventory
 * is validated and the boot files are checked and written first; the inventory is saved only
 * when that succeeded, so a refused change leaves both as they were.
 */
export async function changeInventory(ctx: Context, edit: (site: SiteModel, inventory: Inventory) => Inventory | Promise<Inventory>, options: ChangeOptions = {}): Promise<ChangeResult> {
  const run = async () => {
    // On a site with several servers: this server's, so new nodes' roots are its own and the boot files its share.
    const site = chooseServer(await loadSite(ctx.root), {name: ctx.server, isHost: ctx.root.isHost})
    const before = await loadInventory(ctx.root)
    const after = await edit(site, before)
    assertValidInventory(site, after)
    const result = await applyBootConfig(ctx, {site, inventory: after, dryRun: options.dryRun, reload: options.reload})
    const inventoryDiff = unifiedDiff(`a${STATE.inventoryFile}`, `b${STATE.inventoryFile}`, serializeInventory(before), serializeInventory(after))
    if (!options.dryRun) {
      await saveInventory(ctx, after)
      await options.afterSave?.(site, before, after)
    }
    return {...result, diff: inventoryDiff + result.diff, inventory: after}
  }
  return options.dryRun ? run() : withSiteLock(ctx, run)
}

/** --image NAME@N of nodes add/set: a revision that exists with its boot files published, or the
 * node's pxelinux file would point at a kernel that is not there. (A malformed value is left to
 * the edit, which says how to write it.) */
export async function checkImageFlag(ctx: Context, site: SiteModel, image: string | undefined): Promise<void> {
  if (image !== undefined && REVISION_REF.test(image)) await requireBootableRevision(ctx, site, image, '--image')
}
