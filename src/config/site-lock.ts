import {type Context} from '../system/context.js'
import {withLock} from '../system/lock.js'
import {STATE} from '../system/paths.js'
import {clusterOf, withClusterLock} from './cluster-store.js'
import {loadSite} from './site-file.js'

/**
 * Runs fn holding the site-wide lock: one pxeroot change at a time; a second run exits busy.
 * An unconfigured root is refused before the lock's directory is created, so it stays untouched.
 * On a site whose state is in its Ceph cluster, the lock is the cluster's too, for every server
 * (config/cluster-store.ts): fn runs on this server's copy brought up to the cluster's, and what it
 * changed is stored there as one compare-and-swap before the lock is released.
 */
export async function withSiteLock<T>(ctx: Context, fn: () => Promise<T>): Promise<T> {
  const site = await loadSite(ctx.root)
  return withLock(ctx.root.resolve(STATE.lockFile), 'the site', () => {
    const cluster = clusterOf(ctx.root, site)
    return cluster ? withClusterLock(ctx, site, cluster, commandLine(), fn) : fn()
  })
}

/** What this run is, as the cluster lock's holder names it: its first words (pxeroot nodes clone 10). */
function commandLine(): string {
  return process.argv.slice(2).filter((a) => !a.startsWith('-')).slice(0, 4).join(' ') || 'pxeroot'
}
