/**
 * Once per vitest run, in the vitest process: tells the test files whose run they are in (the
 * shared Ceph cluster is this run's), reaps clusters of runs that were killed, and stops this
 * run's cluster at the end. Cheap when no cluster is involved (one directory read).
 */
import {type TestProject} from 'vitest/node'

import {reapStaleClusters, stopRunCluster} from './ceph-runs.js'

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  project.provide('testRunPid', process.pid)
  const root = process.getuid?.() === 0
  if (root) {
    for (const dir of await reapStaleClusters()) process.stderr.write(`test cluster of a run that is gone: stopped and removed ${dir}\n`)
  }
  return async () => {
    if (root && await stopRunCluster(process.pid)) process.stderr.write('test cluster: stopped and removed\n')
  }
}
