import {PartialFailureError} from '../errors.js'
import {type UpdateReport} from '../images/update.js'
import {type Context} from '../system/context.js'
import {updateImages} from './image-update.js'
import {rollout, type RolloutResult} from './rollout.js'

export interface UpdateRolloutResult {
  images: UpdateReport[]
  rollout: RolloutResult
}

/**
 * `image update NAME|--all --then-rollout` (what cron runs): the update, then `rollout --latest`
 * of the updated images' nodes (--all: every node), with the site's rollout settings, as soon as
 * the update ends. Images that failed to update keep their current revision, so their nodes have
 * nothing new; the run is then partial (exit 4) if the rollout went well. A rollout that fails
 * exits as the rollout does, its record and report kept.
 */
export async function updateThenRollout(ctx: Context, target: {name?: string, all: boolean}, version: string): Promise<UpdateRolloutResult> {
  let images: UpdateReport[]
  let partial: PartialFailureError<{images: UpdateReport[]}> | undefined
  try {
    images = await updateImages(ctx, target, version)
  } catch (error) {
    if (!(error instanceof PartialFailureError)) throw error
    partial = error as PartialFailureError<{images: UpdateReport[]}>
    images = partial.result.images
  }
  ctx.log(`then: rollout --latest of ${target.all ? 'every node' : `${target.name}'s nodes`}`)
  const result = await rollout(ctx, {target: 'latest', nodes: 'all', ...(target.name ? {image: target.name} : {})})
  if (partial) throw new PartialFailureError(`${partial.message}; the rollout of the others ${result.record ? 'ended done' : 'had nothing to do'}`, {images, rollout: result})
  return {images, rollout: result}
}
