import {promises as fs} from 'node:fs'
import path from 'node:path'

import {PreconditionError} from '../errors.js'

/** Fails before any work when the filesystem holding `dir` lacks the space or inodes a tree needs. */
export async function checkSpace(dir: string, need: {bytes: number, inodes: number}, hostPath = dir): Promise<void> {
  let probe = path.resolve(dir)
  while (!(await fs.stat(probe).catch(() => undefined))) probe = path.dirname(probe)
  const st = await fs.statfs(probe)
  const freeBytes = st.bavail * st.bsize
  const mib = (n: number) => `${Math.floor(n / 1024 / 1024)} MiB`
  if (freeBytes < need.bytes) {
    throw new PreconditionError(`not enough free space for ${hostPath}: ${mib(freeBytes)} free, ${mib(need.bytes)} needed`, 'free space, prune old revisions ("pxeroot image prune NAME --keep 2") or lower images.minFreeMiB in the site file')
  }
  // Filesystems without an inode limit (btrfs) report files = 0.
  if (st.files > 0 && st.ffree < need.inodes) {
    throw new PreconditionError(`not enough free inodes for ${hostPath}: ${st.ffree} free, ${need.inodes} needed`, 'free inodes or lower images.minFreeInodes in the site file')
  }
}
