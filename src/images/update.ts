import {type Context} from '../system/context.js'
import {aptClean, aptFullUpgrade, aptUpdate} from './apt.js'
import {changeImage, type ChangeResult} from './change.js'
import {withNetworkRetry} from './retry.js'

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

export function report(result: ChangeResult): UpdateReport {
  return result.revision === undefined
    ? {image: result.image, status: 'current', revision: result.from.revision}
    : {image: result.image, status: 'updated', from: result.from.revision, revision: result.revision, changedPackages: result.changedPackages}
}

export function formatReport(r: UpdateReport): string {
  if (r.status === 'updated') return `${r.image}: updated ${r.image}@${r.from} -> ${r.image}@${r.revision} (${r.changedPackages?.length ?? 0} packages changed)`
  if (r.status === 'current') return `${r.image}: up to date (${r.image}@${r.revision})`
  return `${r.image}: failed: ${r.error}`
}
