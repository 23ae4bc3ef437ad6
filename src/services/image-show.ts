import {loadSite} from '../config/site-file.js'
import {currentRevision, formatRevisionRef} from '../images/layout.js'
import {readManifest, type Manifest} from '../images/manifest.js'
import {resolveRef, revisionUsers} from '../images/revisions.js'
import {type Context} from '../system/context.js'

/** `image show NAME[@N]`: the manifest, whether it is current, and the nodes using it. Reads only. */
export async function showRevision(ctx: Context, text: string): Promise<Manifest & {current: boolean, nodes: string[]}> {
  const site = await loadSite(ctx.root)
  const ref = await resolveRef(ctx, site, text)
  const manifest = await readManifest(ctx.root, site, ref)
  const current = (await currentRevision(ctx.root, site, ref.image))?.revision === ref.revision
  const nodes = (await revisionUsers(ctx)).get(formatRevisionRef(ref)) ?? []
  return {...manifest, current, nodes}
}
