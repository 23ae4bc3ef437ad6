import {type ChangeResult} from '../images/change.js'
import {execInImage as exec} from '../images/session.js'
import {type Context} from '../system/context.js'
import {refreshAfterCurrentMoved} from './boot-refresh.js'

/** `image exec NAME -- CMD`: a new revision when the command changed the image. */
export async function execInImage(ctx: Context, image: string, argv: string[], version: string): Promise<ChangeResult> {
  const result = await exec(ctx, image, argv, version)
  if (result.revision !== undefined) await refreshAfterCurrentMoved(ctx, image)
  return result
}
