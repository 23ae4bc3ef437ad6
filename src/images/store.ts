import {randomBytes} from 'node:crypto'
import {promises as fs} from 'node:fs'
import path from 'node:path'

import {type Context} from '../system/context.js'
import {type SiteModel} from '../config/site.js'
import {PreconditionError} from '../errors.js'
import {isBtrfs, isSubvolume} from '../system/mounts.js'
import {STATE, type Root} from '../system/paths.js'
import {copyTreeShared, createSubvolume, deleteSubvolume, removeTree, snapshot} from '../system/trees.js'
import {bootFiles, currentRevision, imageDir, revisionDir, revisionRootfs, type RevisionRef} from './layout.js'
import {type Manifest, writeManifest} from './manifest.js'

/** Work trees live next to the revisions (same filesystem: promotion is a rename or a snapshot). */
const STAGING_PREFIX = '.staging-'
const COUNTER = '.last-revision'

export function imageLockFile(image: string): string {
  return path.posix.join(STATE.stateDir, 'locks', `image-${image}.lock`)
}

export async function listImages(root: Root, site: SiteModel): Promise<string[]> {
  const dir = root.resolve(site.paths.images)
  const names: string[] = []
  for (const name of await fs.readdir(dir).catch(() => [] as string[])) {
    // stat, not the dirent: an image directory may be a symlink to another disk.
    if (!name.startsWith('.') && (await fs.stat(path.join(dir, name)).catch(() => undefined))?.isDirectory()) names.push(name)
  }
  return names.sort()
}

/** Published revisions of an image, oldest first. A revision directory exists only once complete. */
export async function listRevisions(root: Root, site: SiteModel, image: string): Promise<number[]> {
  const entries = await fs.readdir(root.resolve(imageDir(site, image)), {withFileTypes: true}).catch(() => [])
  return entries.filter((e) => e.isDirectory() && /^[1-9][0-9]*$/.test(e.name)).map((e) => Number(e.name)).sort((a, b) => a - b)
}

/** A tree being built or changed: `dir` is removed whole if it is never promoted. */
export interface Staging {
  image: string
  dir: string
  /** The root filesystem tree (a writable subvolume on btrfs). */
  work: string
  btrfs: boolean
}

async function newStagingDir(ctx: Context, site: SiteModel, image: string): Promise<{dir: string, btrfs: boolean}> {
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

/** A writable copy of a revision: a snapshot on btrfs (O(1)), else a reflink-if-possible copy keeping xattrs, links and devices. */
export async function createWorkingCopy(ctx: Context, site: SiteModel, from: RevisionRef): Promise<Staging> {
  const source = ctx.root.resolve(revisionRootfs(site, from))
  const {dir, btrfs} = await newStagingDir(ctx, site, from.image)
  const work = path.join(dir, 'work')
  if (btrfs && await isSubvolume(source)) await snapshot(ctx.runner, source, work, {signal: ctx.signal})
  else await copyTreeShared(ctx.runner, source, work, ctx.signal)
  return {image: from.image, dir, work, btrfs: btrfs && await isSubvolume(work)}
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

/**
 * Removes what a killed run left behind for this image: staging trees (after unmounting anything
 * below them) and boot files of revisions that were never promoted. Call with the image lock held.
 */
export async function removeStale(ctx: Context, site: SiteModel, image: string): Promise<string[]> {
  const removed: string[] = []
  const dir = ctx.root.resolve(imageDir(site, image))
  for (const e of await fs.readdir(dir, {withFileTypes: true}).catch(() => [])) {
    if (e.name.startsWith(STAGING_PREFIX) || e.name.startsWith('.current')) {
      await removeTree(ctx.runner, path.join(dir, e.name), {mounts: 'unmount'})
      removed.push(e.name)
    }
  }
  const revisions = new Set(await listRevisions(ctx.root, site, image))
  const tftp = ctx.root.resolve(path.posix.join(site.paths.tftp, 'pxeroot', image))
  for (const e of await fs.readdir(tftp, {withFileTypes: true}).catch(() => [])) {
    if (e.name.startsWith('.tmp-') || (/^[0-9]+$/.test(e.name) && !revisions.has(Number(e.name)))) {
      await removeTree(ctx.runner, path.join(tftp, e.name))
      removed.push(`tftp ${e.name}`)
    }
  }
  return removed
}

/** The next revision number; never reuses a number, even of a removed revision. */
export async function reserveRevision(ctx: Context, site: SiteModel, image: string): Promise<number> {
  const file = ctx.root.resolve(path.posix.join(imageDir(site, image), COUNTER))
  const last = Number.parseInt(await fs.readFile(file, 'utf8').catch(() => '0'), 10) || 0
  const n = Math.max(last, ...(await listRevisions(ctx.root, site, image)), 0) + 1
  await ctx.files.write(file, `${n}\n`)
  return n
}

/**
 * Publishes the kernel and initrd of a revision (0644: tftpd serves only world-readable files),
 * as a directory renamed into place so a boot never sees half a pair.
 */
export async function publishBootFiles(ctx: Context, site: SiteModel, ref: RevisionRef, kernel: string, initrd: string): Promise<{kernelBytes: number, initrdBytes: number}> {
  const files = bootFiles(ref)
  const target = ctx.root.resolve(path.posix.join(site.paths.tftp, path.posix.dirname(files.kernel)))
  const temp = path.join(path.dirname(target), `.tmp-${ref.revision}-${randomBytes(3).toString('hex')}`)
  await ctx.files.mkdir(temp, 0o755)
  await ctx.files.chmod(path.dirname(target), 0o755)
  for (const [from, name] of [[kernel, 'vmlinuz'], [initrd, 'initrd.img']] as const) await ctx.files.copy(from, path.join(temp, name), 0o644)
  await ctx.files.chmod(temp, 0o755)
  await removeTree(ctx.runner, target)
  await ctx.files.rename(temp, target)
  await ctx.files.syncDir(path.dirname(target))
  const [k, i] = await Promise.all([fs.stat(path.join(target, 'vmlinuz')), fs.stat(path.join(target, 'initrd.img'))])
  return {kernelBytes: k.size, initrdBytes: i.size}
}

export async function removeBootFiles(ctx: Context, site: SiteModel, ref: RevisionRef): Promise<void> {
  await removeTree(ctx.runner, ctx.root.resolve(path.posix.join(site.paths.tftp, 'pxeroot', ref.image, String(ref.revision))))
}

/**
 * Turns a finished staging tree into revision N in one rename (read-only snapshot first on
 * btrfs), then points `current` at it. A crash before the rename leaves only staging debris.
 */
export async function promote(ctx: Context, site: SiteModel, staging: Staging, manifest: Manifest): Promise<RevisionRef> {
  const ref = {image: staging.image, revision: manifest.revision}
  const rootfs = path.join(staging.dir, 'rootfs')
  if (staging.btrfs) {
    await snapshot(ctx.runner, staging.work, rootfs, {readOnly: true})
    await deleteSubvolume(ctx.runner, staging.work)
  } else {
    await ctx.files.rename(staging.work, rootfs)
  }
  await writeManifest(ctx.files, path.join(staging.dir, 'manifest.json'), manifest)
  await ctx.files.chmod(staging.dir, 0o755)
  const target = ctx.root.resolve(revisionDir(site, ref))
  if (await fs.lstat(target).catch(() => undefined)) throw new PreconditionError(`${revisionDir(site, ref)} already exists; refusing to overwrite a revision`)
  await ctx.files.rename(staging.dir, target)
  await ctx.files.syncDir(path.dirname(target))
  await setCurrent(ctx, site, ref)
  return ref
}

/** Moves `current` atomically: a new symlink under a temp name renamed over the old one. */
export async function setCurrent(ctx: Pick<Context, 'root' | 'files'>, site: SiteModel, ref: RevisionRef): Promise<void> {
  const dir = ctx.root.resolve(imageDir(site, ref.image))
  await ctx.files.symlink(String(ref.revision), path.join(dir, 'current'))
  await ctx.files.syncDir(dir)
}

export async function requireCurrent(root: Root, site: SiteModel, image: string): Promise<RevisionRef> {
  const ref = await currentRevision(root, site, image)
  if (!ref) throw new PreconditionError(`image "${image}" has no revision yet`, `build it first: pxeroot image build RECIPE --name ${image}`)
  return ref
}
