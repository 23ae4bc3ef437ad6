import {randomUUID} from 'node:crypto'

import {changeDiff, planFiles, type Action} from '../apply/plan.js'
import {withSiteLock} from '../config/site-lock.js'
import {loadSite} from '../config/site-file.js'
import {PreconditionError, UserError} from '../errors.js'
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
