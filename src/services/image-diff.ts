import {loadSite} from '../config/site-file.js'
import {diffManifests, type RevisionDiff} from '../images/diff.js'
import {readRevisionManifest, resolveRevision} from '../images/revision-ref.js'
import {type Context} from '../system/context.js'

/** `image diff A B`: reads the two manifests; touches nothing. */
export async function diffRevisions(ctx: Context, from: string, to: string): Promise<RevisionDiff> {
  const site = await loadSite(ctx.root)
  const a = await resolveRevision(ctx, site, from, 'first revision')
  const b = await resolveRevision(ctx, site, to, 'second revision')
  return diffManifests(await readRevisionManifest(ctx.root, site, a), await readRevisionManifest(ctx.root, site, b))
}
