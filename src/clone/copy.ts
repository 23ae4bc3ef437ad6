import {availableParallelism} from 'node:os'

import {type Runner} from '../system/runner.js'
import {type CloneMethod} from './method.js'

/** Full clones of a 600 MB tree take seconds; a wedged copy must still end. */
const COPY_TIMEOUT_MS = 60 * 60 * 1000

export interface CloneTreeOptions {
  /** The source has sparse files (see treeUsage): only then pay for rsync's hole detection. */
  sparse?: boolean
  signal?: AbortSignal
}

/**
 * Creates `dest` (which must not exist) as a copy of the tree `source` keeping owners (numeric),
 * modes, hard links, symlinks, device nodes, FIFOs, ACLs, xattrs and file capabilities.
 *  - btrfs: a writable snapshot; shares every extent and inode metadata until written.
 *  - reflink: `cp -a --reflink=always`: new inodes, shared data extents. Measured about twice
 *    as fast as a Node FICLONE walk, which also cannot copy xattrs (no Node API), so caps would
 *    be lost (see bench/clone.ts and notes/perf-baseline.md).
 *  - rsync: `rsync -aHAX --numeric-ids`: a full copy on filesystems without shared extents.
 *    No -S by default: it makes rsync scan every block for zeros, 30–60 % slower on a
 *    debootstrapped root (bench/clone.ts), and such roots have no sparse files; a tree that
 *    has some gets -S so its holes stay holes. No -W either: local copies already send whole
 *    files (rsync turns delta transfer off when both ends are local), and --inplace measured
 *    slower.
 */
export async function cloneTree(runner: Runner, method: CloneMethod, source: string, dest: string, options: CloneTreeOptions = {}): Promise<void> {
  const run = {timeout: COPY_TIMEOUT_MS, cancelSignal: options.signal}
  switch (method) {
    case 'btrfs':
      await runner.run('btrfs', ['subvolume', 'snapshot', source, dest], run)
      return
    case 'reflink':
      await runner.run('cp', ['-a', '--reflink=always', '--no-target-directory', source, dest], run)
      return
    case 'rsync':
      await runner.run('rsync', [options.sparse ? '-aHAXS' : '-aHAX', '--numeric-ids', `${source}/`, `${dest}/`], run)
  }
}

/**
 * Clones run at once. `cp --reflink` and rsync keep a core busy each (rsync's sender and
 * receiver share one copy's work), so more of them than cores only adds switching: on 2 cores,
 * 10 clones took 1.8 s reflink / 15.5 s rsync 2 at a time, 2.0–2.2 s / 18 s 4 at a time, and
 * 2.4 s / 22 s one at a time. Snapshots cost nothing; their key generation keeps the setting.
 */
export function cloneConcurrency(method: CloneMethod, configured: number, cores = availableParallelism()): number {
  return method === 'btrfs' ? configured : Math.max(1, Math.min(configured, cores))
}
