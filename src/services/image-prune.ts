import {loadSite} from '../config/site-file.js'
import {UserError} from '../errors.js'
import {checkImageName} from '../images/build.js'
import {currentRevision, formatRevisionRef} from '../images/layout.js'
import {deleteRevision, revisionUsers, withImageAndSiteLocks} from '../images/revisions.js'
import {listRevisions, removeStale} from '../images/store.js'
import {type Context} from '../system/context.js'

/** `image prune NAME --keep N`: deletes old revisions that are not current and that no node uses. */
export async function pruneImage(ctx: Context, image: string, keep: number): Promise<{removed: string[], kept: string[]}> {
  checkImageName(image)
  if (!Number.isInteger(keep) || keep < 1) throw new UserError('--keep: must be a whole number of revisions, at least 1')
  const site = await loadSite(ctx.root)
  return withImageAndSiteLocks(ctx, image, async () => {
    await removeStale(ctx, site, image)
    const users = await revisionUsers(ctx)
    const current = (await currentRevision(ctx.root, site, image))?.revision
    const all = await listRevisions(ctx.root, site, image)
    const newest = new Set(all.slice(-keep))
    const removed: string[] = []
    for (const n of all) {
      const ref = {image, revision: n}
      if (newest.has(n) || n === current || users.has(formatRevisionRef(ref))) continue
      await deleteRevision(ctx, site, ref)
      removed.push(formatRevisionRef(ref))
    }
    const kept = (await listRevisions(ctx.root, site, image)).map((n) => formatRevisionRef({image, revision: n}))
    return {removed, kept}
  })
}
