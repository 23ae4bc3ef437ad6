import {availableParallelism} from 'node:os'
import {promises as fs} from 'node:fs'
import path from 'node:path'

import {type SiteModel} from '../config/site.js'
import {UserError} from '../errors.js'
import {type Context} from '../system/context.js'
import {exists} from '../system/files.js'
import {isBtrfs, releaseSelfBinds} from '../system/mounts.js'
import {mapBounded} from '../system/pool.js'
import {copyTree, removeTree, type CopyMethod} from '../system/trees.js'
import {type CloneMethod, type RootBoot, type RootSize, type SpaceCheck, type StorageBackend} from './backend.js'
import {cloneCost, quotaSizes, rootSize, treeUsage} from './local/disk.js'
import {chooseMethod} from './local/method.js'
import {removeLeftoverRoots, removeRoot} from './local/remove.js'
import {createStaging, discardStaging, resetWork, sealLocal, workingCopy} from './local/revisions.js'
import {nodeRootDir, previousRootName, revisionRootfs, type RevisionRef} from './names.js'
import {existingAncestor, mib, requireSpace} from './space.js'

/**
 * The local backend: revisions and roots on the server's own filesystem under paths.images and
 * paths.nodes. A revision is a read-only btrfs subvolume or a directory; a root is a writable
 * snapshot, a reflink copy or a full copy of it (whichever the filesystem allows, local/method.ts),
 * exported to its node over NFS.
 */
export function localStorage(ctx: Context, site: SiteModel): StorageBackend {
  const nodesDir = ctx.root.resolve(site.paths.nodes)
  const rootfs = (ref: RevisionRef) => ctx.root.resolve(revisionRootfs(site, ref))
  const at = (name: string) => path.join(nodesDir, name)
  const local = (method: CloneMethod): CopyMethod => {
    if (method === 'rbd') throw new UserError('--method rbd: this site keeps roots on its own disk (storage.backend: local)')
    return method
  }
  return {
    kind: 'local',

    createStaging: (image) => createStaging(ctx, site, image),
    workingCopy: (ref) => workingCopy(ctx, site, ref),
    resetWork: (staging) => resetWork(ctx, staging),
    discardStaging: (staging) => discardStaging(ctx, staging),
    // A snapshot costs nothing; a copy costs the tree.
    workingCopyBytes: async (ref, treeBytes) => (await isBtrfs(rootfs(ref)) ? 0 : treeBytes),
    sealRevision: (staging) => sealLocal(ctx, staging),
    withRevisionTree: (ref, fn) => fn(rootfs(ref)),
    revisionExists: async (ref) => (await fs.lstat(rootfs(ref)).catch(() => undefined))?.isDirectory() ?? false,
    // Snapshots and copies do not depend on the revision they came from.
    revisionDependents: async () => [],
    removeRevision: (ref) => removeTree(ctx.runner, rootfs(ref), {mounts: 'unmount'}),
    removeStaleRevisions: async () => [],

    async chooseMethod(source, forced) {
      return chooseMethod(rootfs(source), await existingAncestor(nodesDir), forced)
    },
    checkCloneSpace: (source, method, n, what) => checkCloneSpace(rootfs(source), nodesDir, local(method), n, what),
    cloneConcurrency: (method, configured) => cloneConcurrency(local(method), configured),
    listRoots: async () => new Set(await fs.readdir(nodesDir).catch(() => [] as string[])),
    rootExists: (name) => exists(at(name)),
    async cloneRoot(source, name, options) {
      await ctx.files.mkdir(nodesDir, 0o755)
      await copyTree(ctx.runner, local(options.method), rootfs(source), at(name), {sparse: options.sparse, signal: ctx.signal})
    },
    openRoot: async (name) => ({dir: at(name), close: async () => {}}),
    rootsShared: true,
    async renameRoot(from, to) {
      // A mount point cannot be renamed: the root's self-bind goes; apply binds the root under its new name.
      await releaseSelfBinds(ctx.runner, at(from))
      await ctx.files.rename(at(from), at(to))
    },
    removeRoot: (name) => removeRoot(ctx, nodesDir, at(name)),
    removeLeftovers: () => removeLeftoverRoots(ctx, nodesDir, ctx.log),
    async removeNode(node) {
      const removed: string[] = []
      for (const entry of [node, previousRootName(node)]) {
        const st = await fs.lstat(at(entry)).catch(() => undefined)
        if (!st) continue
        if (st.isSymbolicLink()) throw new UserError(`${path.join(site.paths.nodes, entry)} is a symlink; pxeroot removes only real directories inside ${site.paths.nodes}`)
        await removeRoot(ctx, nodesDir, at(entry))
        removed.push(path.posix.join(site.paths.nodes, entry))
      }
      return removed
    },
    rootInUse: async () => [],
    async rootSizes(names, options) {
      const present = await fs.readdir(nodesDir).catch(() => [] as string[])
      const sizes = present.length > 0 ? await quotaSizes(ctx.runner, nodesDir, names) : new Map<string, RootSize>()
      if (options.measure) {
        const unsized = names.filter((name) => !sizes.has(name))
        const measured = await mapBounded(unsized, 16, async (name) => ((await fs.lstat(at(name)).catch(() => undefined))?.isDirectory() ? rootSize(ctx.runner, at(name)) : undefined))
        measured.forEach((m, i) => {
          if (m.status === 'fulfilled' && m.value) sizes.set(unsized[i], m.value)
          else if (m.status === 'rejected') throw m.reason
        })
      }
      return sizes
    },
    rootBoot: async (nodes) => new Map(nodes.map((node): [string, RootBoot] => [node, {kind: 'nfs', path: nodeRootDir(site, node)}])),
    close: async () => {},
  }
}

/** Checks that `n` clones of `source` fit, before anything is created (exit 2 when not). */
async function checkCloneSpace(source: string, dir: string, method: CopyMethod, n: number, what: string): Promise<SpaceCheck> {
  // Unknown, so assumed, for snapshots (which keep holes anyway): the walk costs more than it tells.
  const usage = method === 'btrfs' ? {entries: 0, bytes: 0, sparseFiles: 1} : await treeUsage(source)
  const cost = cloneCost(method, usage)
  const needed = cost.bytes * n
  // Leave 5 % or 64 MiB so the filesystem is not run to the last block.
  const margin = Math.max(64 << 20, Math.round(needed * 0.05))
  const free = await requireSpace(await existingAncestor(dir), {bytes: needed + margin, inodes: cost.entries * n, says: `${n} ${method} clone(s) need about ${mib(needed + margin)}`}, what,
    'free space, clone fewer nodes, or keep images and nodes on one btrfs or xfs (reflink) filesystem ("pxeroot storage prepare")')
  return {needed, free: free.bytes, sparse: usage.sparseFiles > 0}
}

/**
 * Clones run at once. `cp --reflink` and rsync keep a core busy each (rsync's sender and
 * receiver share one copy's work), so more of them than cores only adds switching: on 2 cores,
 * 10 clones took 1.8 s reflink / 15.5 s rsync 2 at a time, 2.0–2.2 s / 18 s 4 at a time, and
 * 2.4 s / 22 s one at a time. A full copy by copy_file_range is bound by the disk, where two
 * streams only seek against each other (4 copies: 10.0 s one at a time, 13.0 s two at a time):
 * one at a time. Snapshots cost nothing; their key generation keeps the setting.
 */
export function cloneConcurrency(method: CopyMethod, configured: number, cores = availableParallelism()): number {
  if (method === 'btrfs') return configured
  if (method === 'copy') return 1
  return Math.max(1, Math.min(configured, cores))
}
