import {promises as fs} from 'node:fs'
import path from 'node:path'

import {type SiteModel} from '../config/site.js'
import {imageDir, type RevisionRef} from '../storage/names.js'
import {type Root} from '../system/paths.js'

/**
 * Where image revisions' metadata and boot files live (host paths); the trees themselves are the
 * storage backend's (src/storage/). One contract shared by the image store, the clone engine and
 * the boot renderers:
 *
 *   <paths.images>/<name>/<N>/manifest.json   recipe, mirror, packages, kernel, sizes, build time
 *   <paths.images>/<name>/<N>/rootfs          the tree, with the local backend (storage/names.ts)
 *   <paths.images>/<name>/current             symlink to "<N>"
 *   <paths.tftp>/pxeroot/<name>/<N>/vmlinuz   published kernel, 0644
 *   <paths.tftp>/pxeroot/<name>/<N>/initrd.img
 */
export {
  formatRevisionRef, imageDir, nodeRootDir, parseRevisionRef, revisionDir, revisionManifest, revisionRootfs, type RevisionRef,
} from '../storage/names.js'

/** Boot files relative to the tftp root, as pxelinux refers to them. */
export function bootFiles(ref: RevisionRef): {kernel: string, initrd: string} {
  const dir = `pxeroot/${ref.image}/${ref.revision}`
  return {kernel: `${dir}/vmlinuz`, initrd: `${dir}/initrd.img`}
}

/** The revision `current` points at, or undefined when the image has none yet. */
export async function currentRevision(root: Root, site: SiteModel, image: string): Promise<RevisionRef | undefined> {
  const link = await fs.readlink(root.resolve(path.posix.join(imageDir(site, image), 'current'))).catch(() => undefined)
  const n = link === undefined ? Number.NaN : Number(path.basename(link))
  return Number.isInteger(n) && n > 0 ? {image, revision: n} : undefined
}
