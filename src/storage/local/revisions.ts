import {randomBytes} from 'node:crypto'
import path from 'node:path'

import {type SiteModel} from '../../config/site.js'
import {type Context} from '../../system/context.js'
import {isBtrfs, isSubvolume} from '../../system/mounts.js'
import {copyTreeShared, createSubvolume, deleteSubvolume, removeTree, snapshot} from '../../system/trees.js'
import {type RevisionStorage, type Staging} from '../backend.js'
import {imageDir, revisionRootfs, STAGING_PREFIX, type RevisionRef} from '../names.js'

/**
 * Revision trees on the server's own filesystem: a staging tree next to the revisions (same
 * filesystem, so promotion is a rename or a snapshot), read-only subvolumes on btrfs and plain
 * directories elsewhere.
 */

/** A new staging directory for `image`: the directory of a revision-to-be. */
export async function newStagingDir(ctx: Context, site: SiteModel, image: string): Promise<{dir: string, btrfs: boolean}> {
  const parent = ctx.root.resolve(imageDir(site, image))
  await ctx.files.mkdir(parent, 0o755)
  const dir = path.join(parent, `${STAGING_PREFIX}${new Date().toISOString().replace(/[-:]/g, '').slice(0, 15)}-${randomBytes(3).toString('hex')}`)
  await ctx.files.mkdir(dir, 0o700)
  return {dir, btrfs: await isBtrfs(dir)}
}

export async function createStaging(ctx: Context, site: SiteModel, image: string): Promise<Staging> {
  const {dir, btrfs} = await newStagingDir(ctx, site, image)
  const work = path.join(dir, 'work')
  if (btrfs) await createSubvolume(ctx.runner, work)
  else await ctx.files.mkdir(work, 0o755)
  return {image, dir, work, btrfs}
}

/** A writable copy of a tree: a snapshot when it is a subvolume of the staging btrfs (O(1)), else a reflink-if-possible copy keeping xattrs, links and devices. */
export async function copyToStaging(ctx: Context, site: SiteModel, image: string, source: string): Promise<Staging> {
  const {dir, btrfs} = await newStagingDir(ctx, site, image)
  const work = path.join(dir, 'work')
  if (btrfs && await isSubvolume(source)) await snapshot(ctx.runner, source, work, {signal: ctx.signal})
  else await copyTreeShared(ctx.runner, source, work, ctx.signal)
  return {image, dir, work, btrfs: btrfs && await isSubvolume(work)}
}

export async function workingCopy(ctx: Context, site: SiteModel, from: RevisionRef): Promise<Staging> {
  return copyToStaging(ctx, site, from.image, ctx.root.resolve(revisionRootfs(site, from)))
}

/** Empties a staging tree's work directory (a fresh subvolume on btrfs). */
export async function resetWork(ctx: Context, staging: Staging): Promise<void> {
  await removeTree(ctx.runner, staging.work, {mounts: 'unmount'})
  if (staging.btrfs) await createSubvolume(ctx.runner, staging.work)
  else await ctx.files.mkdir(staging.work, 0o755)
}

export async function discardStaging(ctx: Context, staging: Staging): Promise<void> {
  await removeTree(ctx.runner, staging.dir, {mounts: 'unmount'})
}

/** The work tree becomes staging.dir/rootfs: a read-only snapshot on btrfs, a rename elsewhere. */
export async function sealLocal(ctx: Context, staging: Staging): Promise<RevisionStorage> {
  const rootfs = path.join(staging.dir, 'rootfs')
  if (staging.btrfs) {
    await snapshot(ctx.runner, staging.work, rootfs, {readOnly: true})
    await deleteSubvolume(ctx.runner, staging.work)
    return 'btrfs'
  }
  await ctx.files.rename(staging.work, rootfs)
  return 'directory'
}
