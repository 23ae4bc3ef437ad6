import {type Context} from '../base-command.js'
import {loadSite} from '../config/site-file.js'
import {PartialFailureError, PxerootError, UserError} from '../errors.js'
import {aptClean, aptFullUpgrade, aptUpdate} from './apt.js'
import {changeImage, type ChangeResult} from './change.js'
import {withNetworkRetry} from './retry.js'
import {listImages} from './store.js'

/** apt-get update + full-upgrade in a working copy; a new revision only when the package set changed. */
export async function updateImage(ctx: Context, image: string, version: string): Promise<ChangeResult> {
  return changeImage(ctx, image, {origin: 'update', publishFileChanges: false, version}, async (session) => {
    const opts = {timeout: 60 * 60_000, cancelSignal: ctx.signal}
    const retry = {signal: ctx.signal, log: ctx.log}
    ctx.log(`${image}: apt-get update`)
    await withNetworkRetry('apt-get update', () => session.run(aptUpdate(), opts), retry)
    ctx.log(`${image}: apt-get full-upgrade`)
    await withNetworkRetry('apt-get full-upgrade', () => session.run(aptFullUpgrade(), opts), retry)
    await session.run(aptClean(), opts)
  })
}

export interface UpdateReport {
  image: string
  status: 'updated' | 'current' | 'failed'
  revision?: number
  from?: number
  changedPackages?: string[]
  error?: string
  exitCode?: number
}

function report(result: ChangeResult): UpdateReport {
  return result.revision === undefined
    ? {image: result.image, status: 'current', revision: result.from.revision}
    : {image: result.image, status: 'updated', from: result.from.revision, revision: result.revision, changedPackages: result.changedPackages}
}

/** `image update NAME` or `--all` (cron): every image is tried; any failure makes the run partial. */
export async function updateImages(ctx: Context, target: {name?: string, all: boolean}, version: string): Promise<UpdateReport[]> {
  if (target.all && target.name) throw new UserError('give an image NAME or --all, not both')
  if (!target.all && !target.name) throw new UserError('missing image: give an image NAME or --all', 'e.g. pxeroot image update --all')
  if (target.name) return [report(await updateImage(ctx, target.name, version))]
  const site = await loadSite(ctx.root)
  const reports: UpdateReport[] = []
  for (const image of await listImages(ctx.root, site)) {
    try {
      reports.push(report(await updateImage(ctx, image, version)))
    } catch (error) {
      if (ctx.signal.aborted) throw ctx.signal.reason
      const e = error as Error
      reports.push({image, status: 'failed', error: e.message, exitCode: e instanceof PxerootError ? e.exitCode : 1})
    }
    ctx.log(formatReport(reports.at(-1)!))
  }
  return reports
}

export function formatReport(r: UpdateReport): string {
  if (r.status === 'updated') return `${r.image}: updated ${r.image}@${r.from} -> ${r.image}@${r.revision} (${r.changedPackages?.length ?? 0} packages changed)`
  if (r.status === 'current') return `${r.image}: up to date (${r.image}@${r.revision})`
  return `${r.image}: failed: ${r.error}`
}

export function assertAllUpdated(reports: UpdateReport[]): void {
  const failed = reports.filter((r) => r.status === 'failed')
  if (failed.length > 0) throw new PartialFailureError(`${failed.length} of ${reports.length} image(s) failed to update: ${failed.map((r) => r.image).join(', ')}`)
}
