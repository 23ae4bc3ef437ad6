import path from 'node:path'

import {type SiteModel} from '../config/site.js'
import {createSparseFile, growFile, makeBtrfs} from '../system/block.js'
import {type Context} from '../system/context.js'
import {isDirectory} from '../system/files.js'
import {bindMount, mountFs} from '../system/mounts.js'
import {createSubvolume} from '../system/trees.js'
import {STORAGE, type StorageTarget} from './layout.js'
import {type StorageStep} from './plan.js'

/** Carries out planned steps in order (each is idempotent, so a run killed half-way is finished by the next). */
export async function runStorageSteps(ctx: Context, site: SiteModel, target: StorageTarget, steps: readonly StorageStep[], uuid: string): Promise<void> {
  const disk = target.kind === 'device' ? target.path : ctx.root.resolve(target.path)
  const mountPoint = ctx.root.resolve(STORAGE.mountPoint)
  for (const step of steps) {
    ctx.signal.throwIfAborted()
    switch (step.kind) {
      case 'create-file':
        await createSparseFile(disk, step.bytes)
        break
      case 'grow-file':
        await growFile(disk, step.bytes)
        break
      case 'mkfs':
        await makeBtrfs(ctx.runner, disk, STORAGE.label, step.force, uuid, ctx.signal)
        break
      case 'mount':
        await ctx.files.mkdir(mountPoint, 0o755)
        await mountFs(ctx.runner, 'btrfs', disk, mountPoint, target.kind === 'file' ? 'loop' : undefined, {signal: ctx.signal})
        break
      case 'subvolume': {
        const sub = path.join(mountPoint, step.name)
        if (!await isDirectory(sub)) await createSubvolume(ctx.runner, sub)
        break
      }
      case 'bind': {
        const at = ctx.root.resolve(site.paths[step.name])
        await ctx.files.mkdir(at, 0o755)
        await bindMount(ctx.runner, path.join(mountPoint, step.name), at, {signal: ctx.signal})
        break
      }
    }
  }
}
