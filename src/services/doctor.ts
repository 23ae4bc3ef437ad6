import {bootModel} from '../apply/desired.js'
import {chooseServer} from '../config/servers.js'
import {loadSite} from '../config/site-file.js'
import {CHECKS, inventoryCheck, type Check, type Facts} from '../doctor/checks.js'
import {PxerootError, UserError} from '../errors.js'
import {loadInventory} from '../inventory/inventory.js'
import {withStorage} from '../storage/registry.js'
import {type Context} from '../system/context.js'

/**
 * `doctor`: the inventory first, then every check, each isolated: one that throws is reported as
 * failed, the others still run. An invalid inventory is a failed check, not a crash; the checks
 * that look at the nodes are skipped then, and the rest still run.
 */
export async function runDoctor(ctx: Context): Promise<Check[]> {
  // On a site with several servers: this server's (its boot files, its roots, its interface).
  const site = chooseServer(await loadSite(ctx.root), {name: ctx.server, isHost: ctx.root.isHost})
  const loaded = await loadInventory(ctx.root).catch((error: unknown) => {
    if (error instanceof UserError) return error
    throw error
  })
  const inventory = loaded instanceof UserError ? {nodes: []} : loaded
  const model = await bootModel(ctx, site, inventory)
  return withStorage(ctx, site, async (storage) => {
    const facts: Facts = {ctx, site, storage, inventory, model}
    const results: Check[] = [inventoryCheck(site, loaded)]
    for (const check of CHECKS) {
      if (check.needsNodes && loaded instanceof UserError) {
        results.push({check: check.name, status: 'skip', message: 'the inventory is invalid (see the inventory check)'})
        continue
      }
      try {
        results.push(...await check.run(facts))
      } catch (error) {
        results.push({check: check.name, status: 'fail', message: (error as Error).message, fix: error instanceof PxerootError ? error.suggestion : undefined})
      }
    }
    return results
  })
}
