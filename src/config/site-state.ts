import {PxerootError} from '../errors.js'
import {makeContext} from '../system/context.js'
import {STATE, type Root} from '../system/paths.js'
import {type SiteModel} from './site.js'

/**
 * Read-only commands on a site whose state is in its cluster: once per run, this server's copy
 * is brought up to the cluster's (without the cluster's lock: a read changes nothing there, and
 * not while a change runs on this server), or, when the cluster does not answer in time, used as
 * it is with a line saying how old it is. Changing commands sync under the lock (site-lock.ts).
 */
let notice: (line: string) => void = (line) => {
  process.stderr.write(`pxeroot: ${line}\n`)
}

/** Where the lines about the site state's copy go (the CLI's log). */
export function onStateNotice(fn: (line: string) => void): void {
  notice = fn
}

const age = (since: string | undefined) => {
  if (!since) return 'of unknown age'
  const minutes = Math.max(0, Math.round((Date.now() - Date.parse(since)) / 60_000))
  return `from ${since.slice(0, 16).replace('T', ' ')} UTC, ${minutes < 120 ? `${minutes} min` : `${Math.round(minutes / 60)} h`} old`
}

/** Brings this server's copy up to the cluster's, once per run; true when files changed. */
export async function refreshSiteState(root: Root, site: SiteModel): Promise<boolean> {
  // Only a site whose roots are in a Ceph cluster keeps its state there (clusterOf): the store, its
  // client and the lock (~7 ms of CPU to load) are loaded for such a site alone, not for every
  // `nodes list` or `status` of a site on local disks.
  if (site.storage.backend !== 'rbd') return false
  const [{applyPulled, ClusterStore, clusterOf, joinBase, localState, markSynced, mergeStates, readBase, saveBase, wasSynced, writerOf}, {StateSessionError}, {acquireLock}] = await Promise.all([
    import('./cluster-store.js'), import('../system/cluster-state.js'), import('../system/lock.js'),
  ])
  const cluster = clusterOf(root, site)
  if (!cluster || wasSynced(root)) return false
  markSynced(root)
  const ctx = makeContext({root, log: notice})
  const store = new ClusterStore(ctx, cluster, writerOf('read', site.self))
  const base = await readBase(root)
  try {
    await store.read()
    const ours = await localState(root, site)
    const merge = mergeStates(base?.files ?? joinBase(ours, store.doc.files), ours, store.doc.files)
    if (merge.conflicts.length > 0) notice(`this server's copy of the site state and the cluster's both changed (${merge.conflicts.join(', ')}): using this server's copy; a changing command will refuse until one side is removed`)
    else if (merge.push.size > 0 && merge.pull.size === 0) notice(`this server's copy has ${merge.push.size} change(s) not stored in the cluster (a run killed before it stored them): the next changing command stores them`)
    if (merge.pull.size === 0 || merge.conflicts.length > 0) return false
    // Not while a change runs here: it holds the local lock, and its copy is newer than any read's.
    const lock = await acquireLock(root.resolve(STATE.lockFile), 'the site').catch((error: unknown) => {
      if (error instanceof PxerootError) return undefined
      throw error
    })
    if (!lock) {
      notice('a change is running on this server: using its copy of the site state')
      return false
    }
    try {
      await applyPulled(ctx, store, merge.pull)
      await saveBase(ctx, store)
    } finally {
      await lock.release()
    }
    return true
  } catch (error) {
    if (!(error instanceof StateSessionError)) throw error
    notice(`the Ceph cluster that holds the site's state did not answer (${error.message}): using this server's copy, ${age(base?.syncedAt)}`)
    return false
  } finally {
    await store.close()
  }
}


/** Says one line about the site state's copy, where its lines go. */
export function stateNotice(line: string): void {
  notice(line)
}
