import {promises as fs} from 'node:fs'
import path from 'node:path'

import {UserError} from '../../errors.js'
import {type Context} from '../../system/context.js'
import {mountsUnder, releaseSelfBinds} from '../../system/mounts.js'
import {REFLINK_PROBE, removeTree} from '../../system/trees.js'
import {TEMP_ROOT, tempRootName} from '../names.js'

/** Whether `p` lies strictly inside `dir`, judged on real paths so ".." and symlinks cannot escape. */
export async function strictlyInside(dir: string, p: string): Promise<boolean> {
  const realDir = await fs.realpath(dir).catch(() => undefined)
  if (!realDir) return false
  const realParent = await fs.realpath(path.dirname(p)).catch(() => undefined)
  if (!realParent) return false
  const rel = path.relative(realDir, path.join(realParent, path.basename(p)))
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel) && path.basename(p) !== '..'
}

type TreeContext = Pick<Context, 'runner' | 'files'>

/**
 * Removes a node root (or a leftover beside one) safely: only inside the nodes directory, never
 * through a mount point, and first renamed to a temp name so a kill half-way never leaves a
 * half-deleted tree under a name an export refers to. The next run finishes the deletion.
 * The root's own self-bind (a subvolume bound onto itself for NFS-Ganesha) is released first;
 * any other mount in it is refused.
 */
export async function removeRoot(ctx: TreeContext, nodesDir: string, p: string): Promise<void> {
  if (!await strictlyInside(nodesDir, p)) {
    throw new UserError(`${p} is not inside the nodes directory ${nodesDir}; pxeroot removes only node roots it made`, 'remove it by hand if it really should go')
  }
  const st = await fs.lstat(p).catch(() => undefined)
  if (!st) return
  if (!st.isDirectory()) {
    await ctx.files.remove(p)
    return
  }
  await releaseSelfBinds(ctx.runner, p)
  const mounts = await mountsUnder(p)
  if (mounts.length > 0) throw new UserError(`${p} has mounts under it (${mounts.join(', ')}); unmount them first`)
  let victim = p
  if (!TEMP_ROOT.test(path.basename(p))) {
    victim = path.join(path.dirname(p), tempRootName(path.basename(p), 'trash'))
    await ctx.files.rename(p, victim)
  }
  await removeTree(ctx.runner, victim)
}

/** Deletes the roots killed or failed runs left beside the roots (and reflink probes); returns
 * the names removed. Leftovers with a mount under them are reported, not deleted. */
export async function removeLeftoverRoots(ctx: TreeContext, nodesDir: string, log: (line: string) => void = () => {}): Promise<string[]> {
  const names = await fs.readdir(nodesDir).catch(() => [] as string[])
  const removed: string[] = []
  for (const name of names) {
    const p = path.join(nodesDir, name)
    if (name.startsWith(REFLINK_PROBE)) {
      await ctx.files.remove(p)
      continue
    }
    if (!TEMP_ROOT.test(name)) continue
    const mounts = await mountsUnder(p)
    if (mounts.length > 0) {
      log(`leaving ${p}: mounts under it (${mounts.join(', ')})`)
      continue
    }
    await removeTree(ctx.runner, p)
    removed.push(name)
  }
  return removed
}
