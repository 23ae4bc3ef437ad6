import {type ChangeResult} from '../images/change.js'
import {shellInImage as shell} from '../images/session.js'
import {type Context} from '../system/context.js'
import {refreshAfterCurrentMoved} from './boot-refresh.js'

/** `image shell NAME`: an interactive change; a new revision when it exits 0 and changed something. */
export async function shellInImage(ctx: Context, image: string, version: string): Promise<ChangeResult> {
  const result = await shell(ctx, image, version)
  if (result.revision !== undefined) await refreshAfterCurrentMoved(ctx, image)
  return result
}
