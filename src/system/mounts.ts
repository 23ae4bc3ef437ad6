import {promises as fs} from 'node:fs'
import path from 'node:path'

import {PreconditionError} from '../errors.js'
import {type Runner} from './runner.js'

const BTRFS_SUPER_MAGIC = 0x91_23_68_3E

/** Mount points from mountinfo text (field 5, octal escapes decoded); pure. */
export function parseMountPoints(mountinfo: string): string[] {
  return mountinfo.split('\n').filter(Boolean).map((line) => line.split(' ')[4].replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8))))
}

/** Mount points at or below `dir` in this process's mount namespace, deepest first. */
export async function mountsUnder(dir: string): Promise<string[]> {
  const real = await fs.realpath(dir).catch(() => path.resolve(dir))
  const all = parseMountPoints(await fs.readFile('/proc/self/mountinfo', 'utf8'))
  return [...new Set(all.filter((mp) => mp === real || mp.startsWith(real.endsWith('/') ? real : real + '/')))]
    .sort((a, b) => b.length - a.length)
}

/** Unmounts everything at or below `dir`: recursive first, lazy as the fallback; throws if anything stays. */
export async function unmountUnder(runner: Runner, dir: string): Promise<string[]> {
  const found = await mountsUnder(dir)
  let left = found
  // Mounts can be stacked on one mount point: repeat (bounded) until nothing is left or nothing moves.
  for (let round = 0; round < 8 && left.length > 0; round++) {
    for (const mp of left) {
      const r = await runner.run('umount', ['-R', mp], {reject: false, timeout: 60_000})
      if (r.exitCode !== 0 && (await mountsUnder(mp)).length > 0) await runner.run('umount', ['-R', '-l', mp], {reject: false, timeout: 60_000})
    }
    const now = await mountsUnder(dir)
    if (now.length === left.length && now.every((m, i) => m === left[i]) && round > 0) break
    left = now
  }
  left = await mountsUnder(dir)
  if (left.length > 0) {
    throw new PreconditionError(`${left.join(', ')} still mounted under ${dir}; refusing to delete through a mount point`, `unmount ${left[0]} by hand and run the command again`)
  }
  return found
}

export async function isBtrfs(dir: string): Promise<boolean> {
  const st = await fs.statfs(dir).catch(() => undefined)
  return st?.type === BTRFS_SUPER_MAGIC
}

/** A btrfs subvolume's root directory always has inode 256. */
export async function isSubvolume(dir: string): Promise<boolean> {
  const st = await fs.lstat(dir).catch(() => undefined)
  return Boolean(st?.isDirectory() && st.ino === 256 && await isBtrfs(dir))
}

/**
 * Deletes a tree without ever deleting through a mount point: anything mounted below it is
 * unmounted first (and the delete refused if that fails), btrfs subvolumes are deleted as
 * subvolumes, and the rest goes with `rm --one-file-system` so a missed mount is skipped, not emptied.
 */
export async function removeTree(runner: Runner, dir: string): Promise<void> {
  const st = await fs.lstat(dir).catch(() => undefined)
  if (!st) return
  if (!st.isDirectory()) {
    await fs.rm(dir, {force: true})
    return
  }
  await unmountUnder(runner, dir)
  if (await isBtrfs(dir)) {
    for (const sub of await subvolumesUnder(dir)) {
      await runner.run('btrfs', ['subvolume', 'delete', sub], {timeout: 10 * 60_000})
    }
  }
  if (await fs.lstat(dir).catch(() => undefined)) {
    await runner.run('rm', ['-rf', '--one-file-system', '--', dir], {timeout: 30 * 60_000})
  }
}

/** Subvolumes at `dir` and up to two levels below it (pxeroot's own layout), deepest first. */
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
