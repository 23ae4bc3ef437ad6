/**
 * `pxeroot storage prepare --rbd POOL` against the run's real single-host cluster: what it checks,
 * what it prepares in the pool, what it records in the site file, and its refusals.
 */
import {promises as fs} from 'node:fs'
import path from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import StoragePrepare from '../../src/commands/storage/prepare.js'
import {parseSite} from '../../src/config/site-file.js'
import {cephSkipReason, sharedCluster, type TestCluster} from '../support/ceph.js'
import {CEPH_CONF, leftovers, rbdSite, type RbdSite} from '../support/rbd-site.js'
import {runCommand} from '../support/run-command.js'
import {snapshotTree} from '../support/tmp-root.js'

const skip = await cephSkipReason()

describe.skipIf(skip)(`storage prepare --rbd${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let cluster: TestCluster
  let s: RbdSite
  const siteFile = () => fs.readFile(path.join(s.dir, 'etc/pxeroot/pxeroot.yaml'), 'utf8')
  const prepare = (...args: string[]) => runCommand(StoragePrepare, ['--rbd', s.pool, '--ceph-conf', CEPH_CONF, '--netns', cluster.namespace, ...s.root, ...args])

  beforeAll(async () => {
    cluster = await sharedCluster()
    s = await rbdSite(cluster, {prepare: false})
    // As a cluster admin leaves a new pool: no application, and clients older than mimic allowed.
    await cluster.ceph(['osd', 'set-require-min-compat-client', 'luminous', '--yes-i-really-mean-it'])
  }, 600_000)
  afterAll(async () => {
    await s?.cleanup()
  })

  it('--dry-run asks the cluster and says what it would do; nothing changes, here or in the cluster', async () => {
    const before = await snapshotTree(s.dir)
    const r = await prepare('--dry-run', '--json')
    expect(r.error?.message).toBeUndefined()
    // The cluster's health, as it answered: other files' pools on the shared cluster (one at its quota) may make it WARN.
    expect(r.result).toMatchObject({dryRun: true, alreadyPrepared: false, pool: s.pool, health: expect.stringMatching(/^HEALTH_(OK|WARN)$/), monitors: ['10.77.0.253:6789']})
    const steps = (r.result as {steps: string[]}).steps
    expect(steps).toEqual([
      `ceph osd pool application enable ${s.pool} rbd`,
      expect.stringMatching(/^ceph osd set-require-min-compat-client mimic .*was luminous\)$/),
      `rbd namespace create ${s.pool}/revisions`,
      `record storage.backend: rbd (pool ${s.pool}) in the site file`,
    ])
    expect((r.result as {diff: string}).diff).toContain(`+    pool: ${s.pool}`)
    expect(await snapshotTree(s.dir)).toEqual(before)
    expect(await cluster.ceph(['osd', 'pool', 'application', 'get', s.pool])).toBe('{}')
    expect(await cluster.rbd(['namespace', 'ls', s.pool])).toBe('')
  })

  it('prepares the pool and records the backend in the site file, keeping what was there; a second run changes nothing', async () => {
    const before = await siteFile()
    const r = await prepare()
    expect(r.error?.message).toBeUndefined()
    expect(JSON.parse(await cluster.ceph(['osd', 'pool', 'application', 'get', s.pool, '--format', 'json']))).toHaveProperty('rbd')
    expect(await cluster.ceph(['osd', 'dump'])).toMatch(/require_min_compat_client mimic/)
    expect(await cluster.rbd(['namespace', 'ls', s.pool])).toMatch(/^revisions$/m)
    const after = await siteFile()
    expect(after.startsWith(before)).toBe(true)
    expect(parseSite(after).storage).toEqual({backend: 'rbd', rbd: {pool: s.pool, cephConf: CEPH_CONF, id: 'admin', mode: 'direct', netns: cluster.namespace}})
    const again = await prepare('--json')
    expect(again.result).toMatchObject({alreadyPrepared: true, steps: []})
    expect(await siteFile()).toBe(after)
  })

  it('refuses a pool the cluster does not have, naming it and the fix (exit 2, nothing changed)', async () => {
    const before = await snapshotTree(s.dir)
    const r = await runCommand(StoragePrepare, ['--rbd', 'no-such-pool', '--ceph-conf', CEPH_CONF, '--netns', cluster.namespace, ...s.root])
    expect(r.code).toBe(2)
    expect(r.error?.message).toMatch(/^--rbd: pool no-such-pool does not exist in the cluster \(pools: .*\); nothing was changed \(create it first/)
    expect(await snapshotTree(s.dir)).toEqual(before)
  })

  it('refuses, within its bound, a cluster that does not answer, and leaves no client behind', async () => {
    // A ceph.conf whose monitor is an address nobody answers on in the cluster's namespace.
    const conf = (await fs.readFile(cluster.conf, 'utf8')).replaceAll('10.77.0.253', '10.77.0.252')
    await fs.writeFile(path.join(s.dir, 'etc/ceph/dead.conf'), conf)
    const before = await snapshotTree(s.dir)
    const t0 = Date.now()
    const r = await runCommand(StoragePrepare, ['--rbd', s.pool, '--ceph-conf', '/etc/ceph/dead.conf', '--netns', cluster.namespace, ...s.root])
    expect(r.code).toBe(1)
    expect(r.error?.message).toMatch(/^the Ceph cluster did not answer within 30 s \(connect; .*dead.conf, pool .*\); nothing was changed/)
    expect(Date.now() - t0).toBeLessThan(60_000)
    expect(await snapshotTree(s.dir)).toEqual(before)
    expect(await leftovers(s.dir)).toEqual([])
  }, 120_000)
})
