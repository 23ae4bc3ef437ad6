import {promises as fs} from 'node:fs'
import path from 'node:path'

import {type SiteModel} from '../config/site.js'
import {type Root} from '../system/paths.js'
import {REVISION_REF} from '../config/names.js'

/**
 * Where image revisions and their boot files live (host paths). One contract shared by the
 * image store, the clone engine and the boot renderers:
 *
 *   <paths.images>/<name>/<N>/rootfs          the golden root of revision N (a read-only btrfs
 *                                             subvolume on btrfs, a directory elsewhere)
 *   <paths.images>/<name>/<N>/manifest.json   recipe, mirror, packages, kernel, sizes, build time
 *   <paths.images>/<name>/current             symlink to "<N>"
 *   <paths.tftp>/pxeroot/<name>/<N>/vmlinuz   published kernel, 0644
 *   <paths.tftp>/pxeroot/<name>/<N>/initrd.img
 */
export interface RevisionRef {
  image: string
  revision: number
}

export function parseRevisionRef(text: string): RevisionRef | undefined {
  const m = REVISION_REF.exec(text)
  return m ? {image: m[1], revision: Number(m[2])} : undefined
}

export function formatRevisionRef(ref: RevisionRef): string {
  return `${ref.image}@${ref.revision}`
}

export function imageDir(site: SiteModel, image: string): string {
  return path.posix.join(site.paths.images, image)
}

export function revisionDir(site: SiteModel, ref: RevisionRef): string {
  return path.posix.join(site.paths.images, ref.image, String(ref.revision))
}

export function revisionRootfs(site: SiteModel, ref: RevisionRef): string {
  return path.posix.join(revisionDir(site, ref), 'rootfs')
}

export function revisionManifest(site: SiteModel, ref: RevisionRef): string {
  return path.posix.join(revisionDir(site, ref), 'manifest.json')
}

/** Boot files relative to the tftp root, as pxelinux refers to them. */
export function bootFiles(ref: RevisionRef): {kernel: string, initrd: string} {
  const dir = `pxeroot/${ref.image}/${ref.revision}`
  return {kernel: `${dir}/vmlinuz`, initrd: `${dir}/initrd.img`}
}

export function nodeRootDir(site: SiteModel, node: string): string {
  return path.posix.join(site.paths.nodes, node)
}

/** The revision `current` points at, or undefined when the image has none yet. */
export async function currentRevision(root: Root, site: SiteModel, image: string): Promise<RevisionRef | undefined> {
  const link = await fs.readlink(root.resolve(path.posix.join(imageDir(site, image), 'current'))).catch(() => undefined)
  const n = link === undefined ? Number.NaN : Number(path.basename(link))
  return Number.isInteger(n) && n > 0 ? {image, revision: n} : undefined
}
