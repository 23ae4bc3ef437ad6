import {loadSite} from '../config/site-file.js'
import {PartialFailureError, PxerootError, UserError} from '../errors.js'
import {listImages} from '../images/store.js'
import {formatReport, report, updateImage, type UpdateReport} from '../images/update.js'
import {type Context} from '../system/context.js'
import {refreshAfterCurrentMoved} from './boot-refresh.js'

async function updateOne(ctx: Context, image: string, version: string): Promise<UpdateReport> {
  const result = await updateImage(ctx, image, version)
  if (result.revision !== undefined) await refreshAfterCurrentMoved(ctx, image)
  return report(result)
}

/**
 * `image update NAME` or `--all` (cron): every image is tried; any failure makes the run partial
 * (exit 4, with every image's report). Nothing changed is "up to date", exit 0.
 */
export async function updateImages(ctx: Context, target: {name?: string, all: boolean}, version: string): Promise<UpdateReport[]> {
  if (target.all && target.name) throw new UserError('give an image NAME or --all, not both')
  if (!target.all && !target.name) throw new UserError('missing image: give an image NAME or --all', 'e.g. pxeroot image update --all')
  if (target.name) return [await updateOne(ctx, target.name, version)]
  const site = await loadSite(ctx.root)
  const reports: UpdateReport[] = []
  for (const image of await listImages(ctx.root, site)) {
    try {
      reports.push(await updateOne(ctx, image, version))
    } catch (error) {
      if (ctx.signal.aborted) throw ctx.signal.reason
      const e = error as Error
      reports.push({image, status: 'failed', error: e.message, exitCode: e instanceof PxerootError ? e.exitCode : 1})
    }
    ctx.log(formatReport(reports.at(-1)!))
  }
  const failed = reports.filter((r) => r.status === 'failed')
  if (failed.length > 0) {
    throw new PartialFailureError(`${failed.length} of ${reports.length} image(s) failed to update: ${failed.map((r) => r.image).join(', ')}`, {images: reports})
  }
  return reports
}
