import {type Context} from '../system/context.js'
import {type SiteModel} from '../config/site.js'
import {PreconditionError} from '../errors.js'
import {loadInventory} from '../inventory/inventory.js'
import {acquireLock} from '../system/lock.js'
import {removeTree} from '../system/trees.js'
import {STATE} from '../system/paths.js'
import {type StorageBackend} from '../storage/backend.js'
import {checkImageName} from './build.js'
import {currentRevision, formatRevisionRef, parseRevisionRef, revisionDir, type RevisionRef} from './layout.js'
import {readManifest} from './manifest.js'
import {imageLockFile, listRevisions, removeBootFiles, setCurrent} from './store.js'

export interface RevisionSummary {
  ref: string
  revision: number
  current: boolean
  kernel: string
  rootfsBytes: number
  packages: number
  builtAt: string
  origin: string
  /** Nodes whose root was cloned from this revision (inventory `image`). */
  nodes: string[]
}

export interface ImageSummary {
  name: string
  current?: number
  revisions: RevisionSummary[]
}

/** Which nodes use which revision ("name@N" → node names), from the inventory. */
export async function revisionUsers(ctx: Context): Promise<Map<string, string[]>> {
  const users = new Map<string, string[]>()
  for (const node of (await loadInventory(ctx.root)).nodes) {
    if (!node.image) continue
    users.set(node.image, [...(users.get(node.image) ?? []), node.name])
  }
  return users
}

export async function summarizeImage(ctx: Context, site: SiteModel, image: string, users: Map<string, string[]>): Promise<ImageSummary> {
  const current = (await currentRevision(ctx.root, site, image))?.revision
  const revisions: RevisionSummary[] = []
  for (const n of await listRevisions(ctx.root, site, image)) {
    const ref = {image, revision: n}
    const m = await readManifest(ctx.root, site, ref).catch(() => undefined)
    revisions.push({
      ref: formatRevisionRef(ref), revision: n, current: n === current,
      kernel: m?.kernel ?? '?', rootfsBytes: m?.sizes.rootfsBytes ?? 0, packages: m?.packages.length ?? 0,
      builtAt: m?.builtAt ?? '?', origin: m?.origin ?? '?',
      nodes: users.get(formatRevisionRef(ref)) ?? [],
    })
  }
  return {name: image, current, revisions}
}

/** "name@N", or "name" meaning its current revision. */
export async function resolveRef(ctx: Context, site: SiteModel, text: string): Promise<RevisionRef> {
  const ref = parseRevisionRef(text)
  if (ref) return ref
  checkImageName(text, 'REVISION')
  const current = await currentRevision(ctx.root, site, text)
  if (!current) throw new PreconditionError(`image "${text}" has no current revision`, 'see "pxeroot image list"')
  return current
}

/**
 * Changes to which revisions exist or are current also change what `apply` renders (the default
 * boot entry follows `current`), so they hold the image lock and the global apply lock.
 */
export async function withImageAndSiteLocks<T>(ctx: Context, image: string, fn: () => Promise<T>): Promise<T> {
  const imageLock = await acquireLock(ctx.root.resolve(imageLockFile(image)), `image ${image}`)
  try {
    const global = await acquireLock(ctx.root.resolve(STATE.lockFile), 'pxeroot')
    try {
      return await fn()
    } finally {
      await global.release()
    }
  } finally {
    await imageLock.release()
  }
}

/** Moves `current` to the revision before it; the caller holds the image and site locks. */
export async function rollbackCurrent(ctx: Context, site: SiteModel, image: string): Promise<{from: number, to: number}> {
  const current = await currentRevision(ctx.root, site, image)
  if (!current) throw new PreconditionError(`image "${image}" has no current revision`, 'see "pxeroot image list"')
  const older = (await listRevisions(ctx.root, site, image)).filter((n) => n < current.revision)
  if (older.length === 0) throw new PreconditionError(`${formatRevisionRef(current)} is the oldest revision; there is nothing to roll back to`)
  const to = older.at(-1)!
  await setCurrent(ctx, site, {image, revision: to})
  return {from: current.revision, to}
}

/** Deletes a revision: its tree where the storage backend keeps it, its metadata, its boot files. */
export async function deleteRevision(ctx: Context, site: SiteModel, storage: StorageBackend, ref: RevisionRef): Promise<void> {
  await storage.removeRevision(ref)
  await removeTree(ctx.runner, ctx.root.resolve(revisionDir(site, ref)), {mounts: 'unmount'})
  await removeBootFiles(ctx, site, ref)
}
