/**
 * Which vitest run owns which test cluster (test/support/ceph.ts): CEPH_TEST_BASE/run-<pid of the
 * vitest process>. Kept apart from ceph.ts so the global setup, in the vitest process, loads
 * nothing that only works inside a test file.
 */
import {promises as fs} from 'node:fs'
import path from 'node:path'

import {stopCephLab} from '../../src/lab/ceph.js'
import {isAlive} from '../../src/system/processes.js'
import {makeContext} from '../../src/system/context.js'

export const CEPH_TEST_BASE = process.env.PXEROOT_TEST_CEPH ?? '/var/tmp/pxeroot-test-ceph'
const RUN_PREFIX = 'run-'

export function runDir(owner: number): string {
  return path.join(CEPH_TEST_BASE, `${RUN_PREFIX}${owner}`)
}

/** Stops and purges the cluster of run `pid` (the global teardown; the next run for a killed one). */
export async function stopRunCluster(pid: number): Promise<boolean> {
  const dir = runDir(pid)
  if (!await fs.stat(dir).catch(() => undefined)) return false
  await stopCephLab(makeContext({log: () => {}}), dir, {purge: true})
  await fs.rm(`${dir}.lock`, {force: true})
  return true
}

/** Clusters of runs that are gone (killed, crashed): stopped by their recorded PIDs and removed. */
export async function reapStaleClusters(): Promise<string[]> {
  const reaped: string[] = []
  for (const name of await fs.readdir(CEPH_TEST_BASE).catch(() => [] as string[])) {
    const pid = Number(name.startsWith(RUN_PREFIX) && !name.endsWith('.lock') ? name.slice(RUN_PREFIX.length) : Number.NaN)
    if (!Number.isInteger(pid) || pid <= 0 || isAlive(pid)) continue
    if (await stopRunCluster(pid)) reaped.push(path.join(CEPH_TEST_BASE, name))
  }
  return reaped
}

