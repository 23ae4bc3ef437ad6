import {ClusterStore, joinBase, localState, mergeStates, readBase, writerOf} from '../config/cluster-store.js'
import {type SiteModel} from '../config/site.js'
import {StateSessionError, type StateCluster} from '../system/cluster-state.js'
import {type Context} from '../system/context.js'
import {type Check} from './check.js'

/**
 * doctor's line for a site whose state is in its cluster: whether the cluster answers, which
 * version it holds and who wrote it, and whether this server's copy is in step with it (changes
 * not stored yet, or a conflict a changing command will refuse).
 */
export async function siteStateCheck(ctx: Context, site: SiteModel, cluster: StateCluster): Promise<Check> {
  const check = 'site state'
  const where = `pool ${cluster.pool}, namespace ${cluster.namespace}`
  const store = new ClusterStore(ctx, cluster, writerOf('doctor', site.self))
  try {
    const doc = await store.read()
    const ours = await localState(ctx.root, site)
    const base = await readBase(ctx.root)
    const merge = mergeStates(base?.files ?? joinBase(ours, doc.files), ours, doc.files)
    const by = doc.writer ? ` by ${doc.writer.server ?? doc.writer.host} (${doc.writer.command}, ${doc.writer.at})` : ''
    if (doc.version === 0) return {check, status: 'fail', message: `the cluster (${where}) holds no site state yet`, fix: 'pxeroot storage prepare --rbd POOL --ceph-conf FILE on the server whose site it is'}
    if (merge.conflicts.length > 0) {
      return {check, status: 'fail', message: `this server's copy and the cluster's (${where}, version ${doc.version}${by}) both changed: ${merge.conflicts.join(', ')}`,
        fix: 'remove those files here to take the cluster\'s, then run the command again'}
    }
    const behind = merge.pull.size > 0 ? `; ${merge.pull.size} file(s) newer in the cluster (the next command takes them)` : ''
    if (merge.push.size > 0) return {check, status: 'warn', message: `${merge.push.size} change(s) here not stored in the cluster (${where}, version ${doc.version}${by})${behind}`, fix: 'run any changing command (pxeroot apply): it stores them'}
    return {check, status: 'ok', message: `in the cluster (${where}): version ${doc.version}${by}; this server's copy ${behind ? `is behind${behind}` : 'is in step'}`}
  } catch (error) {
    if (!(error instanceof StateSessionError)) throw error
    const base = await readBase(ctx.root)
    return {check, status: 'fail', message: `the Ceph cluster that holds the site's state did not answer (${error.message}); this server changes nothing until it does${base ? `; its copy is from ${base.syncedAt}` : ''}`,
      fix: `check the cluster ("ceph -s" with ${cluster.conf}) and this server's network to it`}
  } finally {
    await store.close()
  }
}
