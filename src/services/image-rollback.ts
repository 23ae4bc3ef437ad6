import {loadSite} from '../config/site-file.js'
import {checkImageName} from '../images/build.js'
import {rollbackCurrent, withImageAndSiteLocks} from '../images/revisions.js'
import {type Context} from '../system/context.js'
import {refreshAfterCurrentMoved} from './boot-refresh.js'

/** `image rollback NAME`: `current` back one revision; nodes that follow it boot the older one. */
export async function rollbackImage(ctx: Context, image: string): Promise<{from: number, to: number}> {
  checkImageName(image)
  const site = await loadSite(ctx.root)
  return withImageAndSiteLocks(ctx, image, async () => {
    const moved = await rollbackCurrent(ctx, site, image)
    await refreshAfterCurrentMoved(ctx, image, {locked: true})
    return moved
  })
}
