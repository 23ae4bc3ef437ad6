/**
 * Once per vitest run, in the vitest process: tells the test files whose run they are in (the
 * shared Ceph cluster is this run's, so are its markers: run-marks.ts), reaps clusters of runs
 * that were killed, and stops this run's cluster and removes its markers at the end. Cheap when
 * no cluster is involved (one directory read).
 */
import {promises as fs} from 'node:fs'
import {type TestProject} from 'vitest/node'

import {reapStaleClusters, stopRunCluster} from './ceph-runs.js'
import {autoIsTcgMark} from './run-marks.js'

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  project.provide('testRunPid', process.pid)
  const root = process.getuid?.() === 0
  if (root) {
    for (const dir of await reapStaleClusters()) process.stderr.write(`test cluster of a run that is gone: stopped and removed ${dir}\n`)
  }
  return async () => {
    if (root && await stopRunCluster(process.pid)) process.stderr.write('test cluster: stopped and removed\n')
    await fs.rm(autoIsTcgMark(process.pid), {force: true})
  }
}
