import {randomUUID} from 'node:crypto'
import {promises as fs} from 'node:fs'

import {changeDiff, planFiles, unifiedDiff, type Action} from '../apply/plan.js'
import {withSiteLock} from '../config/site-lock.js'
import {loadSite, parseSite} from '../config/site-file.js'
import {withStorageSection} from '../config/site-edit.js'
import {RbdSettingsSchema, type SiteModel} from '../config/site.js'
import {PreconditionError, UserError} from '../errors.js'
import {listImages, listRevisions} from '../images/store.js'
import {loadInventory} from '../inventory/inventory.js'
import {localStorage} from '../storage/local.js'
import {clientOf, nodeMonitors} from '../storage/rbd/cluster.js'
import {REVISIONS_NAMESPACE} from '../storage/rbd/names.js'
import {planRbd} from '../storage/rbd/prepare.js'
import {RbdSession} from '../system/ceph.js'
import {exists} from '../system/files.js'
import {STATE} from '../system/paths.js'
import {storageUnits} from '../render/systemd/storage-units.js'
import {inspectStorage} from '../storage/inspect.js'
import {parseSize, STORAGE, type StorageState, type StorageTarget} from '../storage/layout.js'
import {planStorage} from '../storage/plan.js'
import {runStorageSteps} from '../storage/prepare.js'
import {type Context} from '../system/context.js'

export interface StoragePrepareOptions {
  device?: string
  file?: string
  size?: string
  force?: boolean
  dryRun?: boolean
}

export interface StoragePrepareResult {
  dryRun: boolean
  /** Nothing had to be done: the storage was prepared as asked. */
  alreadyPrepared: boolean
  target: StorageTarget
  uuid: string
  mountPoint: string
  binds: StorageState['binds']
  /** What was done (or, in a dry run, would be), in order. */
  steps: string[]
  units: {path: string, action: Action}[]
  diff: string
}

function targetOf(options: StoragePrepareOptions): StorageTarget {
  if (options.device && options.file) throw new UserError('give either DEVICE or --file, not both')
  if (options.device) {
    if (options.size) throw new UserError('--size goes with --file: a device is used whole')
    if (!options.device.startsWith('/dev/')) throw new UserError(`DEVICE: "${options.device}" is not a device path`, 'name it like /dev/sdb, or use --file PATH --size 20G for an image file')
    return {kind: 'device', path: options.device}
  }
  if (options.file) {
    if (!options.file.startsWith('/')) throw new UserError(`--file: "${options.file}" must be an absolute path`, 'e.g. --file /var/lib/pxeroot/storage.img')
    return {kind: 'file', path: options.file}
  }
  throw new UserError('name the storage: a block device (pxeroot storage prepare /dev/sdb) or an image file (--file PATH --size 20G)')
}

/**
 * `storage prepare`: btrfs under paths.images and paths.nodes, so revisions are subvolumes and
 * clones are snapshots. Makes the filesystem (refusing one that holds anything unless forced),
 * mounts it at /srv/pxeroot-storage, creates the images and nodes subvolumes, binds them at the
 * site's paths (refusing paths that hold data), and writes owned mount units so it all comes back
 * after a reboot. Everything that can refuse does before the first change; a second run on the
 * prepared storage changes nothing ("already prepared"); --dry-run shows the steps and the units.
 */
export async function prepareStorage(ctx: Context, options: StoragePrepareOptions): Promise<StoragePrepareResult> {
  const target = targetOf(options)
  const bytes = options.size === undefined ? undefined : parseSize(options.size)
  if (!options.dryRun && process.getuid?.() !== 0) throw new PreconditionError('pxeroot storage prepare needs root (mkfs, mounts)', 'run it with sudo, or look first with --dry-run')
  const run = async (): Promise<StoragePrepareResult> => {
    const site = await loadSite(ctx.root)
    const facts = await inspectStorage(ctx.root, ctx.runner, site, target)
    const steps = planStorage({target, bytes, force: options.force ?? false}, facts)
    const existing = facts.target.signatures.find((s) => s.type === 'btrfs' && s.label === STORAGE.label)?.uuid
    const uuid = (steps.some((s) => s.kind === 'mkfs') ? undefined : existing ?? facts.state?.uuid) ?? randomUUID()
    const state: StorageState = {target, uuid, mountPoint: STORAGE.mountPoint, binds: {images: site.paths.images, nodes: site.paths.nodes}, units: []}
    const plan = await planFiles(ctx.root, storageUnits(state), {files: facts.state?.units ?? []})
    const changed = plan.changes.filter((c) => c.action !== 'unchanged')
    const result: StoragePrepareResult = {
      dryRun: options.dryRun ?? false,
      alreadyPrepared: steps.length === 0 && changed.length === 0,
      target, uuid, mountPoint: STORAGE.mountPoint, binds: state.binds,
      steps: steps.map((s) => s.says),
      units: changed.map((c) => ({path: c.path, action: c.action})),
      diff: changed.map(changeDiff).join(''),
    }
    if (options.dryRun) return result

    await runStorageSteps(ctx, site, target, steps, uuid)
    for (const change of changed) {
      if (change.action === 'delete') await ctx.files.remove(ctx.root.resolve(change.path))
      else await ctx.files.write(ctx.root.resolve(change.path), change.after!, {mode: change.mode, forceMode: true})
    }
    const stateText = JSON.stringify({...state, units: plan.owned}, null, 2) + '\n'
    if (changed.length > 0 || steps.length > 0 || !facts.state) await ctx.files.write(ctx.root.resolve(STORAGE.stateFile), stateText, {mode: 0o644})
    return result
  }
  return options.dryRun ? run() : withSiteLock(ctx, run)
}

export interface RbdPrepareOptions {
  pool: string
  /** ceph.conf, a host path (default /etc/ceph/ceph.conf). */
  cephConf?: string
  cephId?: string
  netns?: string
  dryRun?: boolean
}

export interface RbdPrepareResult {
  dryRun: boolean
  alreadyPrepared: boolean
  pool: string
  health: string
  /** The monitors nodes will be told. */
  monitors: string[]
  steps: string[]
  /** The site file's change, as a unified diff. */
  diff: string
}

/**
 * `storage prepare --rbd POOL`: checks the cluster (bounded: an unreachable one is refused at
 * once), prepares the pool for pxeroot (rbd application, clone v2 for clones across namespaces,
 * the revisions namespace) and records the backend in the site file. The pool must exist; a site
 * whose revisions or roots are on this server's disk is refused (export and import revisions,
 * re-clone nodes). --dry-run asks the cluster and changes nothing.
 */
export async function prepareRbdStorage(ctx: Context, options: RbdPrepareOptions): Promise<RbdPrepareResult> {
  if (!options.dryRun && process.getuid?.() !== 0) throw new PreconditionError('pxeroot storage prepare needs root (the site file, Ceph keys)', 'run it with sudo, or look first with --dry-run')
  const run = async (): Promise<RbdPrepareResult> => {
    const site = await loadSite(ctx.root)
    const current = site.storage.backend === 'rbd' ? site.storage.rbd : undefined
    const settings = RbdSettingsSchema.parse({...current, pool: options.pool, cephConf: options.cephConf ?? current?.cephConf, id: options.cephId ?? current?.id, netns: options.netns ?? current?.netns})
    if (!await exists(ctx.root.resolve(settings.cephConf))) throw new UserError(`--ceph-conf: ${settings.cephConf} does not exist`, 'give the cluster\'s ceph.conf (a host path; with --root, under it)')
    if (!current) await refuseLocalTrees(ctx, site)
    const monitors = await nodeMonitors(ctx.root, settings)
    const session = new RbdSession(clientOf(ctx.root, settings))
    try {
      const status = await session.call<{health: string, checks: Record<string, string>, pools: string[], compat: string, applications: Record<string, unknown> | null}>('status')
      const namespaces = status.pools.includes(settings.pool) ? await session.call<string[]>('namespaces') : []
      const text = await fs.readFile(ctx.root.resolve(STATE.siteFile), 'utf8')
      const next = withStorageSection(text, {backend: 'rbd', rbd: settings})
      const steps = planRbd(settings, {...status, applications: status.applications ?? undefined, namespaces}, next !== text)
      const result: RbdPrepareResult = {
        dryRun: options.dryRun ?? false, alreadyPrepared: steps.length === 0, pool: settings.pool, health: status.health, monitors,
        steps: steps.map((s) => s.says), diff: unifiedDiff(`a${STATE.siteFile}`, `b${STATE.siteFile}`, text, next),
      }
      if (options.dryRun) return result
      for (const step of steps) {
        if (step.kind === 'application') await session.call('mon', {command: {prefix: 'osd pool application enable', pool: settings.pool, app: 'rbd'}})
        if (step.kind === 'compat') await session.call('mon', {command: {prefix: 'osd set-require-min-compat-client', version: 'mimic'}})
        if (step.kind === 'namespace') await session.call('namespace_create', {namespace: REVISIONS_NAMESPACE})
        if (step.kind === 'site') {
          parseSite(next)
          await ctx.files.write(ctx.root.resolve(STATE.siteFile), next)
        }
      }
      return result
    } finally {
      await session.close()
    }
  }
  return options.dryRun ? run() : withSiteLock(ctx, run)
}

/** A site moving to rbd must not leave revisions or roots behind on this server's disk, unseen. */
async function refuseLocalTrees(ctx: Context, site: SiteModel): Promise<void> {
  const local = localStorage(ctx, site)
  const revisions: string[] = []
  for (const image of await listImages(ctx.root, site)) {
    for (const n of await listRevisions(ctx.root, site, image)) {
      if (await local.revisionExists({image, revision: n})) revisions.push(`${image}@${n}`)
    }
  }
  const inventory = await loadInventory(ctx.root)
  const roots = [...await local.listRoots()].filter((name) => inventory.nodes.some((n) => n.name === name))
  if (revisions.length + roots.length === 0) return
  throw new UserError(`the site keeps ${[revisions.length > 0 ? `revisions on this server's disk (${revisions.join(', ')})` : '', roots.length > 0 ? `node roots there (${roots.join(', ')})` : ''].filter(Boolean).join(' and ')}; nothing was changed`,
    'export each revision ("pxeroot image export NAME@N FILE"), remove the nodes ("pxeroot nodes rm") and the revisions, prepare, then import the revisions ("pxeroot image import FILE") and clone the nodes again')
}
