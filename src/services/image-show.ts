import {SHIM} from '../backends/loaders/grub.js'
import {loadSite} from '../config/site-file.js'
import {currentRevision, formatRevisionRef} from '../images/layout.js'
import {readManifest, type Manifest} from '../images/manifest.js'
import {resolveRef, revisionUsers} from '../images/revisions.js'
import {revisionSecureBoot, type SecureBootReport} from '../images/secure-boot.js'
import {withStorage} from '../storage/registry.js'
import {type Context} from '../system/context.js'

/** `image show NAME[@N]`: the manifest, whether it is current, the nodes using it and whether it boots under Secure Boot. Reads only. */
export async function showRevision(ctx: Context, text: string): Promise<Manifest & {current: boolean, nodes: string[], secureBoot: SecureBootReport}> {
  const site = await loadSite(ctx.root)
  const ref = await resolveRef(ctx, site, text)
  const manifest = await readManifest(ctx.root, site, ref)
  const current = (await currentRevision(ctx.root, site, ref.image))?.revision === ref.revision
  const nodes = (await revisionUsers(ctx)).get(formatRevisionRef(ref)) ?? []
  const secureBoot = await withStorage(ctx, site, (storage) => revisionSecureBoot(ctx, site, storage, ref, manifest.kernel, SHIM))
  return {...manifest, current, nodes, secureBoot}
}
