import {promises as fs} from 'node:fs'

import {type Context} from '../system/context.js'
import {loadSite} from '../config/site-file.js'
import {type SiteModel} from '../config/site.js'
import {type ChrootSession, withChrootSession} from '../system/chroot.js'
import {type StorageBackend} from '../storage/backend.js'
import {withStorage} from '../storage/registry.js'
import {checkSpace} from '../storage/space.js'
import {acquireLock} from '../system/lock.js'
import {treeDifferences} from '../system/trees.js'
import {checkImageName} from './build.js'
import {installBootReport} from './boot-report.js'
import {affectsInitrd, buildInitrd, kernelFiles, newestKernel} from './initramfs.js'
import {formatRevisionRef, type RevisionRef} from './layout.js'
import {changedPackages, installedPackages, type Manifest, readManifest} from './manifest.js'
import {removeIdentity} from './nfsroot.js'
import {configureRbdRoot, rbdInitrdChanged} from './rbdroot.js'
import {publishRevision} from './publish.js'
import {imageLockFile, removeStale, requireCurrent, type Staging} from './store.js'

export interface ChangeResult {
  image: string
  /** The revision the change started from. */
  from: RevisionRef
  /** The new revision, when the change produced one. */
  revision?: number
  changedPackages: string[]
  initrdRebuilt: boolean
}

export interface ChangeOptions {
  origin: Manifest['origin']
  command?: string[]
  /** Whether changed files alone (no package change) make a new revision; update publishes on package changes only. */
  publishFileChanges: boolean
  version: string
}

/** rsync itemize lines that mean a real difference; a directory whose mtime alone moved is not one; pure. */
export function meaningfulChanges(itemized: string): string[] {
  return itemized.split('\n').filter((l) => l.trim() !== '' && !/^\.d\.\.t[. ]*\s/.test(l))
}

async function filesChanged(ctx: Context, storage: StorageBackend, work: string, original: RevisionRef): Promise<string[]> {
  return storage.withRevisionTree(original, async (tree) => meaningfulChanges(await treeDifferences(ctx.runner, work, tree, ctx.signal)))
}

type ChangeWork = (session: ChrootSession, staging: Staging, site: SiteModel) => Promise<void>

/**
 * Runs `work` against a writable copy of the image's current revision inside the safe chroot and
 * publishes the result as a new revision only if it changed; the copy is discarded on failure,
 * interruption or no change. The published revision is never touched.
 */
export async function changeImage(ctx: Context, image: string, options: ChangeOptions, work: ChangeWork): Promise<ChangeResult> {
  checkImageName(image)
  const site = await loadSite(ctx.root)
  const lock = await acquireLock(ctx.root.resolve(imageLockFile(image)), `image ${image}`)
  try {
    return await withStorage(ctx, site, (storage) => changeLocked(ctx, site, storage, image, options, work))
  } catch (error) {
    if (ctx.signal.aborted) throw ctx.signal.reason
    throw error
  } finally {
    await lock.release()
  }
}

async function changeLocked(ctx: Context, site: SiteModel, storage: StorageBackend, image: string, options: ChangeOptions, work: ChangeWork): Promise<ChangeResult> {
  let staging: Staging | undefined
  try {
    await removeStale(ctx, site, storage, image)
    const from = await requireCurrent(ctx.root, site, image)
    const parent = await readManifest(ctx.root, site, from)
    const copyBytes = await storage.workingCopyBytes(from, parent.sizes.rootfsBytes)
    await checkSpace(ctx.root.resolve(site.paths.images), {bytes: copyBytes + site.images.minFreeMiB * 1024 * 1024, inodes: site.images.minFreeInodes}, site.paths.images)
    const started = Date.now()
    ctx.log(`${formatRevisionRef(from)}: making a working copy`)
    staging = await storage.workingCopy(from)
    const s = staging
    await withChrootSession(ctx.runner, s.work, (session) => work(session, s, site))
    await removeIdentity(ctx.files, s.work)
    // A revision built before the boot report existed gets it with its next change.
    await installBootReport(ctx.files, s.work)
    // A revision built before the RBD boot existed gets it (and an initrd with it) from any change,
    // image update included: its nodes could not move to an rbd site otherwise.
    const rbdBoot = await configureRbdRoot(ctx.files, s.work)
    if (rbdBoot.length > 0) ctx.log(`${image}: adding the RBD boot (${rbdBoot.join(', ')})`)
    const packages = await installedPackages(ctx.runner, s.work)
    const changed = changedPackages(parent.packages, packages)
    const files = changed.length === 0 && options.publishFileChanges ? await filesChanged(ctx, storage, s.work, from) : []
    if (changed.length === 0 && files.length === 0 && rbdBoot.length === 0) return {image, from, changedPackages: [], initrdRebuilt: false}
    const kernel = await newestKernel(s.work)
    const needInitrd = kernel !== parent.kernel || changed.some(affectsInitrd) || rbdInitrdChanged(rbdBoot) || !(await fs.stat(kernelFiles(s.work, kernel).initrd).catch(() => undefined))
    if (needInitrd) {
      ctx.log(`${image}: rebuilding the initramfs for ${kernel}`)
      await withChrootSession(ctx.runner, s.work, (session) => buildInitrd(session, s.work, kernel, ctx.signal))
    }
    const manifest = await publishRevision(ctx, site, storage, s, {origin: options.origin, recipe: parent.recipe, parent: from.revision, command: options.command}, started, options.version)
    staging = undefined
    return {image, from, revision: manifest.revision, changedPackages: changed, initrdRebuilt: needInitrd}
  } finally {
    if (staging) await storage.discardStaging(staging).catch((error: Error) => ctx.log(`cleanup of ${staging!.dir} failed: ${error.message}`))
  }
}
