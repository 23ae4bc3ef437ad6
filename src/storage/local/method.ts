import {promises as fs} from 'node:fs'
import path from 'node:path'

import {UserError} from '../../errors.js'
import {fsTypeOf, isSubvolume, sameFilesystem} from '../../system/mounts.js'
import {canReflink as canReflinkFile, type CopyMethod} from '../../system/trees.js'
import {type CloneMethod, type MethodChoice} from '../backend.js'

/** A regular, non-empty file of the tree to probe FICLONE with (the tree itself may be read-only). */
async function sampleFile(dir: string, depth = 0): Promise<string | undefined> {
  const entries = await fs.readdir(dir, {withFileTypes: true}).catch(() => [])
  for (const e of entries) {
    if (e.isFile()) {
      const p = path.join(dir, e.name)
      const st = await fs.lstat(p)
      if (st.size > 0) return p
    }
  }
  if (depth >= 3) return undefined
  for (const e of entries) {
    if (e.isDirectory()) {
      const found = await sampleFile(path.join(dir, e.name), depth + 1)
      if (found) return found
    }
  }
  return undefined
}

/** Whether files of `source` can be reflinked into `destDir` (same xfs/btrfs filesystem with reflink). */
export async function canReflink(source: string, destDir: string): Promise<boolean> {
  const sample = await sampleFile(source)
  return sample !== undefined && canReflinkFile(sample, destDir)
}

/**
 * Picks the cheapest clone that keeps everything: a writable btrfs snapshot when the revision is
 * a subvolume on the same filesystem (O(1) in image size), per-file reflinks when the
 * filesystem shares extents (xfs reflink=1, btrfs), and a full copy elsewhere (`cp -a`, measured
 * faster than rsync in bench/clone.ts; "rsync" can still be forced).
 */
export async function chooseMethod(source: string, destDir: string, forced?: CloneMethod): Promise<MethodChoice & {method: CopyMethod}> {
  if (forced === 'rbd') throw new UserError('--method rbd: this site keeps roots on its own disk (storage.backend: local)', 'leave --method out, or put the site on a Ceph pool first ("pxeroot storage prepare --rbd POOL")')
  const snapshotable = forced === undefined || forced === 'btrfs'
    ? await isSubvolume(source) && await sameFilesystem(source, destDir)
    : false
  if (forced === 'btrfs') {
    if (!snapshotable) {
      throw new UserError(`--method btrfs: ${source} is not a btrfs subvolume on the same filesystem as ${destDir}`, 'use --method reflink or copy, or keep images and nodes on one btrfs filesystem ("pxeroot storage prepare")')
    }
    return {method: 'btrfs', reason: 'forced'}
  }
  if (forced === 'copy' || forced === 'rsync') return {method: forced, reason: 'forced'}
  const reflink = await canReflink(source, destDir)
  if (forced === 'reflink') {
    if (!reflink) throw new UserError(`--method reflink: ${destDir} cannot share extents with ${source} (${await fsTypeOf(destDir)})`, 'use --method copy, or keep images and nodes on one xfs (reflink=1) or btrfs filesystem ("pxeroot storage prepare")')
    return {method: 'reflink', reason: 'forced'}
  }
  if (snapshotable) return {method: 'btrfs', reason: 'snapshot: the revision is a btrfs subvolume on the nodes filesystem'}
  if (reflink) return {method: 'reflink', reason: `${await fsTypeOf(destDir)} shares extents with the revision`}
  return {method: 'copy', reason: `${await fsTypeOf(destDir)} cannot share extents with the revision`}
}
