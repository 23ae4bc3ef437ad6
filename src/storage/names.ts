import {randomBytes} from 'node:crypto'
import path from 'node:path'

import {REVISION_REF} from '../config/names.js'
import {type SiteModel} from '../config/site.js'

/**
 * Names every storage backend shares (host paths and entry names; pure). Revision metadata lives
 * under paths.images whatever holds the trees:
 *
 *   <paths.images>/<name>/<N>/manifest.json   recipe, mirror, packages, kernel, sizes, build time
 *   <paths.images>/<name>/<N>/rootfs          the tree itself, with the local backend (a read-only
 *                                             btrfs subvolume on btrfs, a directory elsewhere)
 *   <paths.images>/<name>/current             symlink to "<N>"
 *
 * Roots are named as entries of paths.nodes: the node's name is its root, NAME.previous its root
 * before the last rebase, and TEMP_ROOT names are work in progress beside them. The local backend
 * keeps them as directories there; the rbd backend maps each name to an RBD image in the node's
 * namespace (rbd.ts).
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

export function nodeRootDir(site: SiteModel, node: string): string {
  return path.posix.join(site.paths.nodes, node)
}

/** Work trees of builds and changes live next to the revisions: `<paths.images>/<name>/.staging-*`. */
export const STAGING_PREFIX = '.staging-'

/** <nodes>/<name>.previous: node names cannot hold a dot, so this never collides with a node. */
export function previousRootName(name: string): string {
  return `${name}.previous`
}

/** Names pxeroot gives work in progress beside node roots; only these are ever cleaned up unasked. */
export const TEMP_ROOT = /^\.([a-z0-9-]+)(\.previous)?\.pxeroot-(clone|trash|swap)-[0-9a-f]+$/

export type TempKind = 'clone' | 'trash' | 'swap'

/** A temp entry name for work on `base` (a node's name or NAME.previous). */
export function tempRootName(base: string, kind: TempKind): string {
  return `.${base}.pxeroot-${kind}-${randomBytes(4).toString('hex')}`
}

/** The node a root entry name belongs to (its own root, its previous root or work in progress); undefined for anything else. */
export function nodeOfRoot(name: string): string | undefined {
  const temp = TEMP_ROOT.exec(name)
  if (temp) return temp[1]
  const m = /^([a-z0-9-]+)(\.previous)?$/.exec(name)
  return m?.[1]
}
