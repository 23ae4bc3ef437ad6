import {constants, promises as fs} from 'node:fs'
import path from 'node:path'

import {UserError} from '../errors.js'
import {isBtrfs, isSubvolume, mountsUnder, unmountUnder} from './mounts.js'
import {type Runner} from './runner.js'

/**
 * Whole directory trees: copies, snapshots, removal. Each operation has one implementation here,
 * driving the programs that do it best (measured in bench/clone.ts and notes/perf-baseline.md:
 * `cp --reflink` and `btrfs subvolume snapshot` beat any JavaScript walk, which also cannot copy
 * xattrs and file capabilities).
 */

/** Full copies of a 600 MB tree take seconds; a wedged copy must still end. */
const COPY_TIMEOUT_MS = 60 * 60 * 1000
const SUBVOLUME_TIMEOUT_MS = 10 * 60 * 1000

/** The ways to copy a root, cheapest first ("rsync" stays selectable for scripts that name it). */
export const COPY_METHODS = ['btrfs', 'reflink', 'copy', 'rsync'] as const
export type CopyMethod = typeof COPY_METHODS[number]

export interface CopyTreeOptions {
  /** The source has sparse files: only then pay for rsync's hole detection (cp finds holes cheaply anyway). */
  sparse?: boolean
  signal?: AbortSignal
}

/**
 * Creates `dest` (which must not exist) as a copy of the tree `source` keeping owners (numeric),
 * modes, hard links, symlinks, device nodes, FIFOs, ACLs, xattrs and file capabilities.
 *  - btrfs: a writable snapshot; shares every extent and inode metadata until written.
 *  - reflink: `cp -a --reflink=always`: new inodes, shared data extents.
 *  - copy: the fallback where nothing can share extents: `cp -a --reflink=auto`, cp's own
 *    default, which moves data with copy_file_range in the kernel (no read/write through user
 *    space: --reflink=never turns that off too) and keeps holes, hard links, devices, ACLs and
 *    every xattr, file capabilities included. On ext4, 4 cold-cache copies of the golden root one
 *    after another took 10.0 s (median of 4, interleaved, loaded 2-core machine) against 11.3 s
 *    for rsync 2 at a time and 14.5 s for `cp -a --reflink=never`. Where extents can be shared
 *    (forced on xfs/btrfs) copy_file_range shares them, as reflink does.
 *  - rsync: `rsync -aHAX --numeric-ids`, the previous full copy, kept for `--method rsync`.
 *    No -S by default: it makes rsync scan every block for zeros, 30–60 % slower on a
 *    debootstrapped root (bench/clone.ts), and such roots have no sparse files; a tree that
 *    has some gets -S so its holes stay holes. No -W either: local copies already send whole
 *    files (rsync turns delta transfer off when both ends are local), and --inplace measured
 *    slower.
 */
export async function copyTree(runner: Runner, method: CopyMethod, source: string, dest: string, options: CopyTreeOptions = {}): Promise<void> {
  const run = {timeout: COPY_TIMEOUT_MS, cancelSignal: options.signal}
  switch (method) {
    case 'btrfs':
      await runner.run('btrfs', ['subvolume', 'snapshot', source, dest], run)
      return
    case 'reflink':
      await runner.run('cp', ['-a', '--reflink=always', '--no-target-directory', source, dest], run)
      return
    case 'copy':
      await runner.run('cp', ['-a', '--reflink=auto', '--no-target-directory', source, dest], run)
      return
    case 'rsync':
      await runner.run('rsync', [options.sparse ? '-aHAXS' : '-aHAX', '--numeric-ids', `${source}/`, `${dest}/`], run)
  }
}

/** A writable copy that shares extents where the filesystem can (`cp -a --reflink=auto`). */
export async function copyTreeShared(runner: Runner, source: string, dest: string, signal?: AbortSignal): Promise<void> {
  await runner.run('cp', ['-a', '--reflink=auto', '--', source, dest], {timeout: COPY_TIMEOUT_MS, cancelSignal: signal})
}

/**
 * Copies paths (relative to `fromRoot`, with their parent directories) into `toRoot`, replacing
 * nothing that is not named: `cp -a --reflink=auto --parents`, so owners, modes, links and xattrs
 * are kept and, on xfs/btrfs, extents are shared with the source.
 */
export async function copyPaths(runner: Runner, fromRoot: string, toRoot: string, relPaths: readonly string[], signal?: AbortSignal): Promise<void> {
  if (relPaths.length === 0) return
  await runner.run('cp', ['-a', '--reflink=auto', '--parents', '--no-dereference', '-t', toRoot, '--', ...relPaths], {cwd: fromRoot, timeout: COPY_TIMEOUT_MS, cancelSignal: signal})
}

/** rsync's itemized list of what differs from `a` to `b` (a dry run: nothing is written). */
export async function treeDifferences(runner: Runner, a: string, b: string, signal?: AbortSignal): Promise<string> {
  const r = await runner.run('rsync', ['-aHAXn', '--delete', '--one-file-system', '--itemize-changes', `${a}/`, `${b}/`], {timeout: 30 * 60_000, cancelSignal: signal})
  return r.stdout
}

export async function createSubvolume(runner: Runner, dir: string): Promise<void> {
  await runner.run('btrfs', ['subvolume', 'create', dir], {timeout: 60_000})
}

/** A read-only snapshot (a published revision) or a writable one. */
export async function snapshot(runner: Runner, source: string, dest: string, options: {readOnly?: boolean, signal?: AbortSignal} = {}): Promise<void> {
  await runner.run('btrfs', ['subvolume', 'snapshot', ...(options.readOnly ? ['-r'] : []), source, dest], {timeout: SUBVOLUME_TIMEOUT_MS, cancelSignal: options.signal})
}

export async function deleteSubvolume(runner: Runner, dir: string): Promise<void> {
  await runner.run('btrfs', ['subvolume', 'delete', dir], {timeout: SUBVOLUME_TIMEOUT_MS})
}

/** Bytes only this tree holds (btrfs: extents shared with no other subvolume); no quotas needed. */
export async function exclusiveBytes(runner: Runner, dir: string): Promise<number> {
  const r = await runner.run('btrfs', ['filesystem', 'du', '-s', '--raw', dir], {timeout: 10 * 60 * 1000})
  // "     Total   Exclusive  Set shared  Filename" then one line of numbers.
  const fields = r.stdout.trim().split('\n').pop()!.trim().split(/\s+/)
  return Number(fields[1])
}

/** Subvolumes at `dir` and up to two levels below it (pxeroot's own layouts), deepest first. */
async function subvolumesUnder(dir: string): Promise<string[]> {
  const found: string[] = []
  const walk = async (d: string, depth: number): Promise<void> => {
    if (depth < 2) {
      for (const e of await fs.readdir(d, {withFileTypes: true}).catch(() => [])) {
        if (e.isDirectory()) await walk(path.join(d, e.name), depth + 1)
      }
    }
    if (await isSubvolume(d)) found.push(d)
  }
  await walk(dir, 0)
  return found
}

export interface RemoveTreeOptions {
  /**
   * What to do with mounts below the tree. "refuse" (the default): throw, nothing is deleted,
   * for trees others may have mounted into (node roots). "unmount": unmount them first, for
   * pxeroot's own scratch trees (a killed build's staging directory).
   */
  mounts?: 'refuse' | 'unmount'
}

/**
 * The one recursive delete: never through a mount point (mounts below are refused or unmounted
 * first), btrfs subvolumes deleted as subvolumes (nested ones first), and the rest with
 * `rm --one-file-system`, so a mount that appeared meanwhile is skipped, never emptied.
 */
export async function removeTree(runner: Runner, dir: string, options: RemoveTreeOptions = {}): Promise<void> {
  const st = await fs.lstat(dir).catch(() => undefined)
  if (!st) return
  if (!st.isDirectory()) {
    await fs.rm(dir, {force: true})
    return
  }
  if ((options.mounts ?? 'refuse') === 'unmount') {
    await unmountUnder(runner, dir)
  } else {
    const mounts = await mountsUnder(dir)
    if (mounts.length > 0) throw new UserError(`${dir} has mounts under it (${mounts.join(', ')}); unmount them first`)
  }
  if (await isBtrfs(dir)) {
    for (const sub of await subvolumesUnder(dir)) await deleteSubvolume(runner, sub)
  }
  if (await fs.lstat(dir).catch(() => undefined)) {
    await runner.run('rm', ['-rf', '--one-file-system', '--', dir], {timeout: COPY_TIMEOUT_MS})
  }
}

/** Whether `sample` (a regular file) can be reflinked into `destDir`: one FICLONE probe, removed at once. */
export async function canReflink(sample: string, destDir: string): Promise<boolean> {
  const probe = path.join(destDir, `${REFLINK_PROBE}${process.pid}`)
  try {
    await fs.copyFile(sample, probe, constants.COPYFILE_FICLONE_FORCE)
    return true
  } catch {
    return false
  } finally {
    await fs.rm(probe, {force: true})
  }
}

/** The name a reflink probe has, so a killed run's probe is recognised and removed. */
export const REFLINK_PROBE = '.pxeroot-reflink-probe-'

/** Referenced and exclusive bytes of every subvolume of a btrfs filesystem, by its path from the
 * top level, from quota groups: one call, no tree walk. Undefined when quotas are not enabled. */
export async function qgroupSizes(runner: Runner, dir: string): Promise<Map<string, {referenced: number, exclusive: number}> | undefined> {
  const r = await runner.run('btrfs', ['qgroup', 'show', '--raw', dir], {reject: false, timeout: 60_000})
  if (r.exitCode !== 0) return undefined
  const out = new Map<string, {referenced: number, exclusive: number}>()
  for (const line of r.stdout.split('\n')) {
    const m = /^0\/\d+\s+(\d+)\s+(\d+)\s+(\S.*)$/.exec(line.trim())
    if (m) out.set(m[3].trim(), {referenced: Number(m[1]), exclusive: Number(m[2])})
  }
  return out
}
