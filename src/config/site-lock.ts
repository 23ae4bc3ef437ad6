import {type Context} from '../system/context.js'
import {withLock} from '../system/lock.js'
import {STATE} from '../system/paths.js'
import {loadSite} from './site-file.js'

/** Runs fn holding the site-wide lock: one pxeroot change at a time; a second run exits busy.
 * An unconfigured root is refused before the lock's directory is created, so it stays untouched. */
export async function withSiteLock<T>(ctx: Context, fn: () => Promise<T>): Promise<T> {
  await loadSite(ctx.root)
  return withLock(ctx.root.resolve(STATE.lockFile), 'the site', fn)
}
