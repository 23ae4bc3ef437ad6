import {promises as fs} from 'node:fs'
import path from 'node:path'

import {type Context} from '../system/context.js'
import {rootPath, safeParent} from '../system/root-files.js'
import {copyPaths, removeTree} from '../system/trees.js'

function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*')}$`)
}

/** The node-local paths that exist in a root (patterns may use "*" in the last component).
 * Paths under a symlinked directory are skipped: they would lead out of the root. */
export async function expandNodeLocal(nodeRoot: string, patterns: readonly string[]): Promise<string[]> {
  const found = new Set<string>()
  for (const pattern of patterns) {
    const clean = path.posix.normalize(pattern)
    const base = path.posix.basename(clean)
    let parent: string
    try {
      parent = path.dirname(await safeParent(nodeRoot, clean))
    } catch {
      continue
    }
    const candidates = base.includes('*')
      ? (await fs.readdir(parent).catch(() => [] as string[])).filter((n) => globToRegExp(base).test(n))
      : [base]
    for (const name of candidates) {
      const inside = path.posix.join(path.posix.dirname(clean), name)
      if (await fs.lstat(rootPath(nodeRoot, inside)).catch(() => undefined)) found.add(inside)
    }
  }
  // A path inside another carried path is carried with it.
  const all = [...found].sort()
  return all.filter((p) => !all.some((q) => q !== p && p.startsWith(`${q}/`)))
}

/**
 * Copies node-local paths from the old root into a fresh clone of the new revision: each
 * replaces what the image has there (a path absent from the old root keeps the image's copy).
 * One `cp -a --reflink=auto` keeps owners, modes, links, xattrs and, on xfs/btrfs, shares extents
 * with the old root, so the cost is in proportion to the node-local files, not the image.
 */
export async function carryNodeLocal(ctx: Pick<Context, 'runner' | 'files'>, oldRoot: string, newRoot: string, patterns: readonly string[], signal?: AbortSignal): Promise<string[]> {
  const paths = await expandNodeLocal(oldRoot, patterns)
  if (paths.length === 0) return []
  // Replacing /var/log touches /var's mtime; the image's parents keep theirs, so the new root
  // stays identical to the revision outside the node-local paths.
  const parents = new Map<string, {atime: Date, mtime: Date} | undefined>()
  for (const inside of paths) {
    const target = await safeParent(newRoot, inside, true)
    const parent = path.dirname(target)
    if (!parents.has(parent)) parents.set(parent, await fs.lstat(parent).catch(() => undefined))
    await removeTree(ctx.runner, target)
  }
  await copyPaths(ctx.runner, oldRoot, newRoot, paths.map((p) => p.replace(/^\/+/, '')), signal)
  for (const [parent, st] of parents) if (st) await ctx.files.setTimes(parent, st.atime, st.mtime)
  return paths
}
