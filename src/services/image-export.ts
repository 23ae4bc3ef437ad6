import {exportRevision as exportToArchive, type ExportResult} from '../images/archive.js'
import {type Context} from '../system/context.js'

/** `image export NAME@N FILE`: the revision as a zstd tar, written whole or not at all. */
export async function exportRevision(ctx: Context, revision: string, file: string, options: {force?: boolean} = {}): Promise<ExportResult> {
  return exportToArchive(ctx, revision, file, options)
}
