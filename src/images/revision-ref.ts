import {promises as fs} from 'node:fs'
import path from 'node:path'

import {type SiteModel} from '../config/site.js'
import {UserError} from '../errors.js'
import {exists} from '../system/files.js'
import {type Root} from '../system/paths.js'
import {withStorage} from '../storage/registry.js'
import {type Context} from '../system/context.js'
import {bootFiles, currentRevision, formatRevisionRef, parseRevisionRef, revisionManifest, type RevisionRef} from './layout.js'
import {parseManifestText, type ManifestView} from './manifest-view.js'
import {IMAGE_NAME} from '../config/names.js'


/** "lab@3" as written, or "lab" for lab's current revision; the revision must exist where the storage backend keeps it. */
export async function resolveRevision(ctx: Context, site: SiteModel, text: string, what = 'revision'): Promise<RevisionRef> {
  let ref = parseRevisionRef(text)
  if (!ref) {
    if (!IMAGE_NAME.test(text)) throw new UserError(`${what}: "${text}" is not a revision; write NAME@N (e.g. lab@3) or NAME for its current revision`)
    ref = await currentRevision(ctx.root, site, text)
    if (!ref) throw new UserError(`${what}: image "${text}" has no revisions`, 'see "pxeroot image list"')
  }
  const known = ref
  if (!await withStorage(ctx, site, (storage) => storage.revisionExists(known))) {
    throw new UserError(`${what}: there is no revision ${formatRevisionRef(ref)}`, 'see "pxeroot image list"')
  }
  return ref
}

/** A revision nodes can boot from: it exists, and its kernel and initrd are published in the tftp root. */
export async function requireBootableRevision(ctx: Context, site: SiteModel, text: string, what = 'revision'): Promise<RevisionRef> {
  const ref = await resolveRevision(ctx, site, text, what)
  for (const rel of Object.values(bootFiles(ref))) {
    const file = path.posix.join(site.paths.tftp, rel)
    if (!await exists(ctx.root.resolve(file))) {
      throw new UserError(`${what}: ${formatRevisionRef(ref)} has no published boot files (${file} is missing)`, 'build a new revision, or pick one that has them: see "pxeroot image list"')
    }
  }
  return ref
}

export async function readRevisionManifest(root: Root, site: SiteModel, ref: RevisionRef): Promise<ManifestView> {
  const file = revisionManifest(site, ref)
  const text = await fs.readFile(root.resolve(file), 'utf8').catch(() => {
    throw new UserError(`${formatRevisionRef(ref)} has no readable manifest at ${file}`)
  })
  return parseManifestText(text, file)
}
