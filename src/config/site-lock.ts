import {type Context} from '../system/context.js'
import {withLock} from '../system/lock.js'
import {STATE} from '../system/paths.js'
import {PxerootError} from '../errors.js'
import {makeContext} from '../system/context.js'
import {type Root} from '../system/paths.js'
import {clusterOf, localState, mergeStates, readBase, withClusterLock} from './cluster-store.js'
import {loadSite, readSite} from './site-file.js'
import {stateNotice} from './site-state.js'

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

/**
 * After a command that changes image revisions outside the site lock (image build, update, exec,
 * shell, import, rollback, prune, rm take the image's own lock, so that a build does not hold
 * every server's node commands for minutes): what it changed here is stored in the cluster under
 * a short hold of the cluster lock, merged file by file with what others stored meanwhile. A
 * cluster that does not answer leaves the change on this server, said in one line; the next
 * changing command stores it.
 */
export async function storeSiteState(root: Root, command: string): Promise<void> {
  const site = await readSite(root).catch(() => undefined)
  const cluster = site && clusterOf(root, site)
  if (!site || !cluster) return
  const base = await readBase(root)
  const ours = await localState(root, site)
  if (base && mergeStates(base.files, ours, base.files).push.size === 0) return
  const ctx = makeContext({root, log: stateNotice})
  try {
    await withClusterLock(ctx, site, cluster, command, async () => undefined)
  } catch (error) {
    if (!(error instanceof PxerootError)) throw error
    stateNotice(`what this command changed is on this server only, not yet in the cluster (${error.message}); the next changing command stores it`)
  }
}
