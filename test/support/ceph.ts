/**
 * The shared Ceph fixture: ONE real single-host cluster (pxeroot's own `lab ceph`) for every test
 * file of a vitest run, started by the first file that asks for it (under a file lock, so a
 * second caller waits and then reuses it), stopped and purged by the run's global teardown
 * (test/support/global-setup.ts). Each run's cluster lives in CEPH_TEST_BASE/run-<pid of the
 * vitest process>; a run that was killed leaves its cluster behind, and the next run's setup
 * stops and removes every cluster whose run is gone (by the PIDs each recorded). Its servers are
 * bounded anyway (LIFETIME_MINUTES).
 *
 * The cluster listens on 10.77.0.253/24 (cephLabAddress of the golden site: its subnet, free of
 * the server, the node range and the lab's stand-in DHCP server), on the bridge of its own
 * network namespace; a lab run of a golden root joins that bridge. Clients run inside the
 * namespace (nsenter --net) with the cluster's ceph.conf: never outside it.
 *
 * Skipped, with the reason, when not root or the Ceph packages are missing (cephSkipReason).
 */
import {execa} from 'execa'
import {promises as fs} from 'node:fs'
import path from 'node:path'
import {inject} from 'vitest'

import {parseSite} from '../../src/config/site-file.js'
import {CEPH_LAB_TOOLS, cephLabAddress, startCephLab} from '../../src/lab/ceph.js'
import {findTools} from '../../src/lab/tools.js'
import {clusterClient, type TestCluster} from './ceph-client.js'
import {CEPH_TEST_BASE, runDir} from './ceph-runs.js'
import {goldenSiteText} from './golden.js'
import {underLockWaiting} from './lock-wait.js'
import {testContext} from './tmp-root.js'

declare module 'vitest' {
  export interface ProvidedContext {
    /** The PID of the vitest process: the owner of this run's cluster. */
    testRunPid: number
  }
}

/** A bound on every server of a test cluster, whatever happens to the run (CI's own limit is 90 min). */
const LIFETIME_MINUTES = 120

/** Why the Ceph cases cannot run here, or undefined when they can. */
export async function cephSkipReason(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'needs root (a network namespace for the cluster)'
  const {missing} = await findTools(CEPH_LAB_TOOLS)
  return missing.length > 0 ? `Ceph is not installed (apt-get install --no-install-recommends ${missing.join(' ')})` : undefined
}

/** The golden site's cluster address: lab runs of golden roots reach it on their own link. */
export function testClusterAddress(): string {
  return cephLabAddress(parseSite(goldenSiteText()))
}

function owner(): number {
  // Outside vitest's global setup (a bench, a script): the calling process owns it.
  try {
    return inject('testRunPid') ?? process.pid
  } catch {
    return process.pid
  }
}

let shared: Promise<TestCluster> | undefined

/** This run's cluster: started on first use (about 20 s), then the same one for every file of the run. */
export async function sharedCluster(): Promise<TestCluster> {
  shared ??= (async () => {
    const dir = runDir(owner())
    await fs.mkdir(CEPH_TEST_BASE, {recursive: true})
    return underLockWaiting(`${dir}.lock`, 'the test cluster', {waitMs: 10 * 60_000, pollMs: 2000}, async () => {
      // A running cluster of this run is reused ("already running"); a new one is started.
      const started = await startCephLab(testContext('/'), undefined, {dir, address: testClusterAddress(), osdGiB: 20, lifetimeMinutes: LIFETIME_MINUTES})
      process.stderr.write(`test cluster: ${started.alreadyRunning ? 'reused' : `${started.health} in ${started.seconds.toFixed(1)} s`} (${started.namespace}, ${started.monitor})\n`)
      return clusterClient(started)
    })
  })()
  shared.catch(() => {
    shared = undefined
  })
  return shared
}

export {CEPH_TEST_BASE} from './ceph-runs.js'
export {clusterClient, type TestCluster} from './ceph-client.js'

/** Processes of a cluster still running (ps lines naming its ceph.conf); empty after a stop. */
export async function clusterProcesses(dir: string): Promise<string[]> {
  const ps = await execa('ps', ['-eo', 'pid,args'])
  return ps.stdout.split('\n').filter((l) => l.includes(path.join(dir, 'ceph.conf')) && !l.includes('ps -eo'))
}

/**
 * Runs a lab boot that joins the shared cluster's bridge, one at a time across the run's files:
 * the lab allows one run on a cluster's wire (two copies of the boot network would meet there,
 * src/lab/rbd.ts), and the RBD and failover labs may come up side by side in two workers. The
 * other waits (a lab run takes minutes; bounded at 30).
 */
export async function oneLabOnCluster<T>(cluster: TestCluster, fn: () => Promise<T>): Promise<T> {
  return underLockWaiting(path.join(path.dirname(cluster.conf), 'lab.lock'), 'the cluster\'s lab link', {waitMs: 30 * 60_000, pollMs: 2000}, fn)
}
