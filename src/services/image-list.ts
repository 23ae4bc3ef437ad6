import {loadSite} from '../config/site-file.js'
import {revisionUsers, summarizeImage, type ImageSummary} from '../images/revisions.js'
import {listImages as imageNames} from '../images/store.js'
import {type Context} from '../system/context.js'

/** `image list`: every image with its revisions, sizes and the nodes using each. Reads only. */
export async function listImages(ctx: Context): Promise<ImageSummary[]> {
  const site = await loadSite(ctx.root)
  const users = await revisionUsers(ctx)
  return Promise.all((await imageNames(ctx.root, site)).map((image) => summarizeImage(ctx, site, image, users)))
}
