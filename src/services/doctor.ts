import {bootModel} from '../apply/desired.js'
import {loadSite} from '../config/site-file.js'
import {CHECKS, type Check, type Facts} from '../doctor/checks.js'
import {PxerootError} from '../errors.js'
import {loadInventory} from '../inventory/inventory.js'
import {type Context} from '../system/context.js'

/** `doctor`: every check, each isolated: one that throws is reported as failed, the others still run. */
export async function runDoctor(ctx: Context): Promise<Check[]> {
  const site = await loadSite(ctx.root)
  const inventory = await loadInventory(ctx.root)
  const facts: Facts = {ctx, site, inventory, model: await bootModel(ctx.root, site, inventory)}
  const results: Check[] = []
  for (const check of CHECKS) {
    try {
      results.push(...await check(facts))
    } catch (error) {
      results.push({check: check.name, status: 'fail', message: (error as Error).message, fix: error instanceof PxerootError ? error.suggestion : undefined})
    }
  }
  return results
}
