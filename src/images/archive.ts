import {promises as fs} from 'node:fs'
import path from 'node:path'

import {type Context} from '../system/context.js'
import {IMAGE_NAME} from '../config/names.js'
import {loadSite} from '../config/site-file.js'
import {type SiteModel} from '../config/site.js'
import {PreconditionError, UserError} from '../errors.js'
import {tempNameFor} from '../system/files.js'
import {withLock} from '../system/lock.js'
import {mountsUnder} from '../system/mounts.js'
import {type Runner} from '../system/runner.js'
import {type StorageBackend} from '../storage/backend.js'
import {withStorage} from '../storage/registry.js'
import {memberProblems} from './archive-members.js'
import {createArgs, extractRootfsArgs, listArgs, readManifestArgs} from './gnu-tar.js'
import {bootFiles, formatRevisionRef, imageDir, revisionDir, type RevisionRef} from './layout.js'
import {parseManifest, type Manifest} from './manifest.js'
import {manifestView, type ManifestView} from './manifest-view.js'
import {readRevisionManifest, resolveRevision} from './revision-ref.js'
import {imageLockFile, promote, publishBootFiles, removeBootFiles, removeStale, reserveRevision, REVISION_COUNTER} from './store.js'

/** Archives hold whole root filesystems: bound generously, but bounded. */
const TAR_TIMEOUT_MS = 2 * 60 * 60 * 1000
/** A kernel version as it appears in /boot file names; anything else could walk out of /boot. */
const KERNEL_VERSION = /^[A-Za-z0-9][A-Za-z0-9._+~-]*$/

export interface ExportResult {
  revision: string
  archive: string
  bytes: number
}

export interface ImportResult {
  revision: string
  /** The revision the archive was exported from. */
  from: string
  archive: string
  kernel: string
  bootFiles: {kernel: string, initrd: string}
  /** Leftovers of earlier killed runs on this image (staging trees, orphan boot files), removed first. */
  cleaned: string[]
}

async function requireZstd(runner: Runner, signal: AbortSignal): Promise<void> {
  await runner.run('zstd', ['--version'], {timeout: 30_000, cancelSignal: signal})
}

/** `image export NAME@N FILE`: the revision (manifest.json first, then rootfs/) as a zstd tar; written whole or not at all. */
export async function exportRevision(ctx: Context, refText: string, output: string, options: {force?: boolean} = {}): Promise<ExportResult> {
  const site = await loadSite(ctx.root)
  const ref = await resolveRevision(ctx, site, refText)
  await readRevisionManifest(ctx.root, site, ref)
  const archive = path.resolve(output)
  const parent = await fs.stat(path.dirname(archive)).catch(() => undefined)
  if (!parent?.isDirectory()) throw new UserError(`archive: directory ${path.dirname(archive)} does not exist`)
  if (!options.force && await fs.lstat(archive).catch(() => undefined)) {
    throw new UserError(`archive: ${archive} already exists`, 'choose another file name or pass --force to replace it')
  }
  const revision = ctx.root.resolve(revisionDir(site, ref))
  if (archive.startsWith(revision + path.sep)) throw new UserError('archive: must not be inside the revision it archives')
  await requireZstd(ctx.runner, ctx.signal)

  return withLock(ctx.root.resolve(imageLockFile(ref.image)), `image ${ref.image}`, () => withStorage(ctx, site, (storage) => storage.withRevisionTree(ref, async (rootfs) => {
    // A mount below a revision (a chroot session left behind) would put the host's /proc or /dev in the archive.
    const real = await fs.realpath(rootfs)
    const mounts = (await mountsUnder(rootfs)).filter((mp) => mp !== real)
    if (mounts.length > 0) throw new PreconditionError(`${formatRevisionRef(ref)} has filesystems mounted below it: ${mounts.join(', ')}`, 'unmount them first')
    const temp = tempNameFor(archive)
    try {
      ctx.log(`exporting ${formatRevisionRef(ref)} to ${archive}`)
      await ctx.runner.run('tar', createArgs(temp, revision, path.dirname(rootfs)), {timeout: TAR_TIMEOUT_MS, cancelSignal: ctx.signal})
      await ctx.files.chmod(temp, 0o600)
      await ctx.files.rename(temp, archive)
    } catch (error) {
      await ctx.files.remove(temp)
      throw error
    }
    await ctx.files.syncDir(path.dirname(archive))
    return {revision: formatRevisionRef(ref), archive, bytes: (await fs.stat(archive)).size}
  })))
}

/** Member names, the manifest and the checks that make an archive importable; reads only. */
export async function inspectArchive(ctx: Context, archive: string): Promise<ManifestView & {manifest: Manifest}> {
  const st = await fs.stat(archive).catch(() => undefined)
  if (!st?.isFile()) throw new UserError(`archive: ${archive} is not a file`)
  await requireZstd(ctx.runner, ctx.signal)
  const listing = await ctx.runner.run('tar', listArgs(archive), {timeout: TAR_TIMEOUT_MS, cancelSignal: ctx.signal, reject: false})
  if (listing.exitCode !== 0) {
    const why = listing.stderr.split('\n').map((l) => l.trim()).filter((l) => l && !/^tar: (Child returned|Error is not recoverable)/.test(l)).slice(0, 2).join('; ')
    throw new UserError(`archive: ${archive} is not a readable zstd tar archive${why ? ` (${why})` : ''}`, 'give a file written by "pxeroot image export"')
  }
  const problems = memberProblems(listing.stdout.split('\n').filter((l) => l !== ''))
  if (problems.length > 0) throw new UserError(`archive: ${archive} is not a pxeroot export: ${problems.join('; ')}`, 'give a file written by "pxeroot image export"')
  const text = (await ctx.runner.run('tar', readManifestArgs(archive), {timeout: TAR_TIMEOUT_MS, cancelSignal: ctx.signal})).stdout
  let raw: Record<string, unknown>
  try {
    raw = JSON.parse(text) as Record<string, unknown>
  } catch {
    throw new UserError(`archive: ${archive}: its manifest.json is not valid JSON (not a pxeroot export)`)
  }
  const source = `${path.basename(archive)}:manifest.json`
  const view = manifestView(raw, source)
  if (!KERNEL_VERSION.test(view.kernel)) throw new UserError(`archive: ${archive}: manifest kernel "${view.kernel}" is not a kernel version`)
  return {...view, manifest: parseManifest(raw, source)}
}

function importedManifest(exported: Manifest, ref: RevisionRef, archive: string): Omit<Manifest, 'storage'> {
  const {parent: _parent, storage: _storage, ...rest} = exported
  // The exported manifest as it was (packages, recipe, sizes, build time), renamed to its new place.
  return {
    ...rest,
    image: ref.image,
    revision: ref.revision,
    origin: 'import',
    importedFrom: {image: exported.image, revision: exported.revision, archive: path.basename(archive), importedAt: new Date().toISOString()},
  }
}

/** The kernel and initrd of the manifest's kernel version, as regular files inside rootfs/boot (never through a symlink). */
async function bootSources(rootfs: string, kernel: string): Promise<{kernel: string, initrd: string}> {
  const boot = path.join(rootfs, 'boot')
  if (!(await fs.lstat(boot).catch(() => undefined))?.isDirectory()) throw new UserError(`archive: its rootfs has no /boot directory`)
  const files = {kernel: path.join(boot, `vmlinuz-${kernel}`), initrd: path.join(boot, `initrd.img-${kernel}`)}
  for (const file of Object.values(files)) {
    if (!(await fs.lstat(file).catch(() => undefined))?.isFile()) {
      throw new UserError(`archive: its rootfs has no regular file /boot/${path.basename(file)} for the manifest's kernel ${kernel}`)
    }
  }
  return files
}

/**
 * `image import FILE [--name NAME]`: the archive becomes the next revision of NAME (default: the
 * image it was exported from), through a staging dir and one rename, like a build. A bad archive
 * or a failure half-way leaves nothing behind.
 */
export async function importArchive(ctx: Context, archiveArg: string, options: {name?: string} = {}): Promise<ImportResult> {
  const site = await loadSite(ctx.root)
  const archive = path.resolve(archiveArg)
  const manifest = await inspectArchive(ctx, archive)
  const name = options.name ?? manifest.image
  if (!IMAGE_NAME.test(name)) throw new UserError(`--name: "${name}" must be lowercase letters, digits, ".", "_" or "-"`)
  const from: RevisionRef = {image: manifest.image, revision: manifest.revision}
  return withLock(ctx.root.resolve(imageLockFile(name)), `image ${name}`, () => withStorage(ctx, site, (storage) => importLocked(ctx, site, storage, archive, name, from, manifest.manifest, manifest.kernel)))
}

async function importLocked(ctx: Context, site: SiteModel, storage: StorageBackend, archive: string, name: string, from: RevisionRef, exported: Manifest, kernel: string): Promise<ImportResult> {
  const imageDirDisk = ctx.root.resolve(imageDir(site, name))
  const createdImageDir = !(await fs.lstat(imageDirDisk).catch(() => undefined))
  const cleaned = await removeStale(ctx, site, storage, name)
  const staging = await storage.createStaging(name)
  let ref: RevisionRef | undefined
  let promoted = false
  try {
    ctx.log(`importing ${formatRevisionRef(from)} from ${archive}`)
    await ctx.runner.run('tar', extractRootfsArgs(archive, staging.dir, path.basename(staging.work)), {timeout: TAR_TIMEOUT_MS, cancelSignal: ctx.signal})
    ctx.signal.throwIfAborted()
    const sources = await bootSources(staging.work, kernel)
    ref = {image: name, revision: await reserveRevision(ctx, site, name)}
    await publishBootFiles(ctx, site, ref, sources.kernel, sources.initrd)
    ctx.signal.throwIfAborted()
    await promote(ctx, site, storage, staging, importedManifest(exported, ref, archive))
    promoted = true
    return {revision: formatRevisionRef(ref), from: formatRevisionRef(from), archive, kernel, bootFiles: bootFiles(ref), cleaned}
  } catch (error) {
    if (!promoted) {
      await storage.discardStaging(staging).catch((e: Error) => ctx.log(`warning: could not remove ${staging.dir}: ${e.message}`))
      if (ref) await removeBootFiles(ctx, site, ref).catch(() => undefined)
      // A refused archive leaves no trace: not even the directory (and revision counter) of an image it would have created.
      if (createdImageDir) {
        if (ref) await ctx.files.remove(ctx.root.resolve(path.posix.join(imageDir(site, name), REVISION_COUNTER))).catch(() => undefined)
        await ctx.files.removeEmptyDir(ctx.root.resolve(path.posix.join(site.paths.tftp, 'pxeroot', name))).catch(() => undefined)
        await ctx.files.removeEmptyDir(imageDirDisk).catch(() => undefined)
      }
    }
    throw error
  }
}
