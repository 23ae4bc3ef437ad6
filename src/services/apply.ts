import {applyBootConfig, type ApplyResult} from '../apply/apply.js'
import {withSiteLock} from '../config/site-lock.js'
import {type Context} from '../system/context.js'

/** `apply [--dry-run]`: the boot configuration from the site and inventory; a dry run takes no lock and writes nothing. */
export async function applyConfig(ctx: Context, options: {dryRun?: boolean, reload?: boolean}): Promise<ApplyResult> {
  return options.dryRun ? applyBootConfig(ctx, options) : withSiteLock(ctx, () => applyBootConfig(ctx, options))
}
