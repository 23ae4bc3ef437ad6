import {importArchive as importRevision, type ImportResult} from '../images/archive.js'
import {parseRevisionRef} from '../images/layout.js'
import {type Context} from '../system/context.js'
import {refreshAfterCurrentMoved} from './boot-refresh.js'

/** `image import FILE`: the archive becomes the next revision; nodes that follow the image follow it. */
export async function importArchive(ctx: Context, archive: string, options: {name?: string} = {}): Promise<ImportResult> {
  const result = await importRevision(ctx, archive, options)
  await refreshAfterCurrentMoved(ctx, parseRevisionRef(result.revision)!.image)
  return result
}
