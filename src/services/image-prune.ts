import {loadSite} from '../config/site-file.js'
import {UserError} from '../errors.js'
import {checkImageName} from '../images/build.js'
import {currentRevision, formatRevisionRef} from '../images/layout.js'
import {deleteRevision, revisionUsers, withImageAndSiteLocks} from '../images/revisions.js'
import {listRevisions, removeStale} from '../images/store.js'
import {withStorage} from '../storage/registry.js'
import {type Context} from '../system/context.js'

export interface PruneImageResult {
  removed: string[]
  kept: string[]
  /** Old revisions kept because roots still depend on them (RBD clones): revision → roots. */
  held: Record<string, string[]>
}

/** `image prune NAME --keep N`: deletes old revisions that are not current, that no node uses and that no root depends on. */
export async function pruneImage(ctx: Context, image: string, keep: number): Promise<PruneImageResult> {
  checkImageName(image)
  if (!Number.isInteger(keep) || keep < 1) throw new UserError('--keep: must be a whole number of revisions, at least 1')
  const site = await loadSite(ctx.root)
  return withImageAndSiteLocks(ctx, image, () => withStorage(ctx, site, async (storage) => {
    await removeStale(ctx, site, storage, image)
    const users = await revisionUsers(ctx)
    const current = (await currentRevision(ctx.root, site, image))?.revision
    const all = await listRevisions(ctx.root, site, image)
    const newest = new Set(all.slice(-keep))
    const removed: string[] = []
    const held: Record<string, string[]> = {}
    for (const n of all) {
      const ref = {image, revision: n}
      if (newest.has(n) || n === current || users.has(formatRevisionRef(ref))) continue
      const dependents = await storage.revisionDependents(ref)
      if (dependents.length > 0) {
        held[formatRevisionRef(ref)] = dependents
        continue
      }
      await deleteRevision(ctx, site, storage, ref)
      removed.push(formatRevisionRef(ref))
    }
    const kept = (await listRevisions(ctx.root, site, image)).map((n) => formatRevisionRef({image, revision: n}))
    return {removed, kept, held}
  }))
}
