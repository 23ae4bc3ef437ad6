import {refreshAfterCurrentMoved} from '../apply/refresh.js'
import {type Context} from '../base-command.js'
import {loadSite} from '../config/site-file.js'
import {type SiteModel} from '../config/site.js'
import {PreconditionError, UserError} from '../errors.js'
import {loadInventory} from '../nodes/inventory.js'
import {acquireLock} from '../system/lock.js'
import {removeTree} from '../system/mounts.js'
import {STATE} from '../system/paths.js'
import {checkImageName} from './build.js'
import {currentRevision, formatRevisionRef, parseRevisionRef, revisionDir, type RevisionRef} from './layout.js'
import {type Manifest, readManifest} from './manifest.js'
import {imageLockFile, listImages, listRevisions, removeBootFiles, removeStale, setCurrent} from './store.js'

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

async function summarize(ctx: Context, site: SiteModel, image: string, users: Map<string, string[]>): Promise<ImageSummary> {
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

export async function listImageSummaries(ctx: Context): Promise<ImageSummary[]> {
  const site = await loadSite(ctx.root)
  const users = await revisionUsers(ctx)
  return Promise.all((await listImages(ctx.root, site)).map((image) => summarize(ctx, site, image, users)))
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

export async function showRevision(ctx: Context, text: string): Promise<Manifest & {current: boolean, nodes: string[]}> {
  const site = await loadSite(ctx.root)
  const ref = await resolveRef(ctx, site, text)
  const manifest = await readManifest(ctx.root, site, ref)
  const current = (await currentRevision(ctx.root, site, ref.image))?.revision === ref.revision
  const nodes = (await revisionUsers(ctx)).get(formatRevisionRef(ref)) ?? []
  return {...manifest, current, nodes}
}

/**
 * Changes to which revisions exist or are current also change what `apply` renders (the default
 * boot entry follows `current`), so they hold the image lock and the global apply lock.
 */
async function withImageAndApplyLocks<T>(ctx: Context, image: string, fn: () => Promise<T>): Promise<T> {
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

export async function rollbackImage(ctx: Context, image: string): Promise<{from: number, to: number}> {
  checkImageName(image)
  const site = await loadSite(ctx.root)
  return withImageAndApplyLocks(ctx, image, async () => {
    const current = await currentRevision(ctx.root, site, image)
    if (!current) throw new PreconditionError(`image "${image}" has no current revision`, 'see "pxeroot image list"')
    const older = (await listRevisions(ctx.root, site, image)).filter((n) => n < current.revision)
    if (older.length === 0) throw new PreconditionError(`${formatRevisionRef(current)} is the oldest revision; there is nothing to roll back to`)
    const to = older.at(-1)!
    await setCurrent(ctx.root, site, {image, revision: to})
    await refreshAfterCurrentMoved(ctx, image, {locked: true})
    return {from: current.revision, to}
  })
}

async function deleteRevision(ctx: Context, site: SiteModel, ref: RevisionRef): Promise<void> {
  await removeTree(ctx.runner, ctx.root.resolve(revisionDir(site, ref)))
  await removeBootFiles(ctx, site, ref)
}

export async function pruneImage(ctx: Context, image: string, keep: number): Promise<{removed: string[], kept: string[]}> {
  checkImageName(image)
  if (!Number.isInteger(keep) || keep < 1) throw new UserError('--keep: must be a whole number of revisions, at least 1')
  const site = await loadSite(ctx.root)
  return withImageAndApplyLocks(ctx, image, async () => {
    await removeStale(ctx, site, image)
    const users = await revisionUsers(ctx)
    const current = (await currentRevision(ctx.root, site, image))?.revision
    const all = await listRevisions(ctx.root, site, image)
    const newest = new Set(all.slice(-keep))
    const removed: string[] = []
    for (const n of all) {
      const ref = {image, revision: n}
      if (newest.has(n) || n === current || users.has(formatRevisionRef(ref))) continue
      await deleteRevision(ctx, site, ref)
      removed.push(formatRevisionRef(ref))
    }
    const kept = (await listRevisions(ctx.root, site, image)).map((n) => formatRevisionRef({image, revision: n}))
    return {removed, kept}
  })
}

export async function removeRevision(ctx: Context, text: string): Promise<string> {
  const ref = parseRevisionRef(text)
  if (!ref) throw new UserError(`REVISION: "${text}" is not a revision; write it as NAME@N, e.g. lab@2`)
  const site = await loadSite(ctx.root)
  return withImageAndApplyLocks(ctx, ref.image, async () => {
    const name = formatRevisionRef(ref)
    if (!(await listRevisions(ctx.root, site, ref.image)).includes(ref.revision)) throw new UserError(`${name} does not exist; see "pxeroot image list"`)
    const users = (await revisionUsers(ctx)).get(name) ?? []
    if (users.length > 0) throw new PreconditionError(`${name} is used by ${users.join(', ')}; refusing to remove it`, 're-clone those nodes from another revision first')
    if ((await currentRevision(ctx.root, site, ref.image))?.revision === ref.revision) {
      throw new PreconditionError(`${name} is the current revision of ${ref.image}; refusing to remove it`, `roll back first: pxeroot image rollback ${ref.image}`)
    }
    await deleteRevision(ctx, site, ref)
    return name
  })
}
