import {buildImage as build, type BuildRequest, type BuildResult} from '../images/build.js'
import {type Context} from '../system/context.js'
import {refreshAfterCurrentMoved} from './boot-refresh.js'

/** `image build RECIPE`: a new revision, then the boot entries of nodes that follow the image. */
export async function buildImage(ctx: Context, request: BuildRequest): Promise<BuildResult> {
  const result = await build(ctx, request)
  await refreshAfterCurrentMoved(ctx, result.ref.image)
  return result
}
