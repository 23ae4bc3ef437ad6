import {randomBytes} from 'node:crypto'
import {promises as fs} from 'node:fs'
import path from 'node:path'

import {type Context} from '../system/context.js'
import {type SiteModel} from '../config/site.js'
import {PreconditionError} from '../errors.js'
import {type Staging, type StorageBackend} from '../storage/backend.js'
import {STAGING_PREFIX} from '../storage/names.js'
import {STATE, type Root} from '../system/paths.js'
import {removeTree} from '../system/trees.js'
import {bootFiles, currentRevision, imageDir, revisionDir, type RevisionRef} from './layout.js'
import {type Manifest, writeManifest} from './manifest.js'

/** The last revision number given out, in the image's directory: numbers are never reused. */
export const REVISION_COUNTER = '.last-revision'

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

export type {Staging} from '../storage/backend.js'

/**
 * Removes what a killed run left behind for this image: staging trees (after unmounting anything
 * below them) and boot files of revisions that were never promoted. Call with the image lock held.
 */
export async function removeStale(ctx: Context, site: SiteModel, storage: StorageBackend, image: string): Promise<string[]> {
  const removed: string[] = []
  const dir = ctx.root.resolve(imageDir(site, image))
  for (const e of await fs.readdir(dir, {withFileTypes: true}).catch(() => [])) {
    if (e.name.startsWith(STAGING_PREFIX) || e.name.startsWith('.current')) {
      await removeTree(ctx.runner, path.join(dir, e.name), {mounts: 'unmount'})
      removed.push(e.name)
    }
  }
  const promoted = await listRevisions(ctx.root, site, image)
  removed.push(...await storage.removeStaleRevisions(image, promoted))
  const revisions = new Set(promoted)
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
  const file = ctx.root.resolve(path.posix.join(imageDir(site, image), REVISION_COUNTER))
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
 * Turns a finished staging tree into revision N in one rename (the storage backend seals the
 * tree first: a read-only snapshot on btrfs, an RBD image in the pool), then points `current` at
 * it. A crash before the rename leaves only staging debris (and what removeStale removes).
 */
export async function promote(ctx: Context, site: SiteModel, storage: StorageBackend, staging: Staging, facts: Omit<Manifest, 'storage'>): Promise<Manifest> {
  const ref = {image: staging.image, revision: facts.revision}
  const manifest: Manifest = {...facts, storage: await storage.sealRevision(staging, ref)}
  await writeManifest(ctx.files, path.join(staging.dir, 'manifest.json'), manifest)
  await ctx.files.chmod(staging.dir, 0o755)
  const target = ctx.root.resolve(revisionDir(site, ref))
  if (await fs.lstat(target).catch(() => undefined)) throw new PreconditionError(`${revisionDir(site, ref)} already exists; refusing to overwrite a revision`)
  await ctx.files.rename(staging.dir, target)
  await ctx.files.syncDir(path.dirname(target))
  await setCurrent(ctx, site, ref)
  return manifest
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
