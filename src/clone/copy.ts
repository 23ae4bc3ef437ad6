import {type Runner} from '../system/runner.js'
import {type CloneMethod} from './method.js'

/** Full clones of a 600 MB tree take seconds; a wedged copy must still end. */
const COPY_TIMEOUT_MS = 60 * 60 * 1000

/**
 * Creates `dest` (which must not exist) as a copy of the tree `source` keeping owners (numeric),
 * modes, hard links, symlinks, device nodes, FIFOs, ACLs, xattrs and file capabilities.
 *  - btrfs: a writable snapshot; shares every extent and inode metadata until written.
 *  - reflink: `cp -a --reflink=always`: new inodes, shared data extents. Measured about twice
 *    as fast as a Node FICLONE walk, which also cannot copy xattrs (no Node API), so caps would
 *    be lost (see bench/clone.ts and notes/perf-baseline.md).
 *  - rsync: `rsync -aHAXS --numeric-ids`: a full copy on filesystems without shared extents.
 */
export async function cloneTree(runner: Runner, method: CloneMethod, source: string, dest: string, signal?: AbortSignal): Promise<void> {
  const options = {timeout: COPY_TIMEOUT_MS, cancelSignal: signal}
  switch (method) {
    case 'btrfs':
      await runner.run('btrfs', ['subvolume', 'snapshot', source, dest], options)
      return
    case 'reflink':
      await runner.run('cp', ['-a', '--reflink=always', '--no-target-directory', source, dest], options)
      return
    case 'rsync':
      await runner.run('rsync', ['-aHAXS', '--numeric-ids', `${source}/`, `${dest}/`], options)
  }
}
