import {promises as fs} from 'node:fs'
import path from 'node:path'

import {NoSpaceError} from '../errors.js'

export interface FreeSpace {
  bytes: number
  /** Free inodes, or undefined where the filesystem allocates them on demand (btrfs reports 0). */
  inodes?: number
}

/** The nearest existing directory at or above `dir` (space is asked of the filesystem it will be on). */
export async function existingAncestor(dir: string): Promise<string> {
  let d = path.resolve(dir)
  while (!await fs.stat(d).then((s) => s.isDirectory(), () => false)) d = path.dirname(d)
  return d
}

export async function freeSpace(dir: string): Promise<FreeSpace> {
  const s = await fs.statfs(await existingAncestor(dir))
  return {bytes: s.bavail * s.bsize, inodes: s.files > 0 ? s.ffree : undefined}
}

export function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(bytes < 10 * 2 ** 20 ? 1 : 0)} MiB`
}

/**
 * The one "not enough disk" refusal (exit 2, nothing was started). `what` names
 * the step, `need` what it needs; the suggestion says how to make room.
 */
export async function requireSpace(dir: string, need: {bytes: number, inodes?: number, says?: string}, what: string, fix: string): Promise<FreeSpace> {
  const free = await freeSpace(dir)
  if (free.bytes < need.bytes) {
    throw new NoSpaceError(`${what}: not enough disk: ${need.says ?? `${mib(need.bytes)} needed`} and ${dir} has ${mib(free.bytes)} free; nothing was created`, fix)
  }
  if (need.inodes !== undefined && free.inodes !== undefined && free.inodes < need.inodes) {
    throw new NoSpaceError(`${what}: not enough inodes: ${need.inodes} needed and ${dir} has ${free.inodes} free; nothing was created`, fix)
  }
  return free
}

/** Fails before any work when the filesystem holding `dir` lacks the space or inodes a tree needs. */
export async function checkSpace(dir: string, need: {bytes: number, inodes: number}, hostPath = dir): Promise<void> {
  await requireSpace(dir, need, hostPath, 'free space, prune old revisions ("pxeroot image prune NAME --keep 2") or lower images.minFreeMiB / images.minFreeInodes in the site file')
}
