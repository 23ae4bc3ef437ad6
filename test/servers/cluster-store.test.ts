/**
 * The site state in the cluster (issue 18): two servers (two roots) share the site file, the
 * inventory and the revisions' metadata and boot files through RADOS objects in the test cluster
 * (one per vitest run, test/support/ceph.ts); every change under the cluster-wide lock, stored as
 * a compare-and-swap; a second holder is refused busy (exit 5), a dead run's lock expires, an
 * unreachable cluster refuses changes (exit 3).
 */
import {promises as fs} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {ClusterStore, LOCK_SECONDS, readBase, STATE_NAMESPACE, withClusterLock, writerOf} from '../../src/config/cluster-store.js'
import {parseSite} from '../../src/config/site-file.js'
import {BusyError, EXIT, PreconditionError} from '../../src/errors.js'
import {siteStateCheck} from '../../src/doctor/site-state.js'
import {type StateCluster} from '../../src/system/cluster-state.js'
import {cephSkipReason, sharedCluster, type TestCluster} from '../support/ceph.js'
import {seedServersSiteText} from '../support/seed-model.js'
import {testContext} from '../support/tmp-root.js'

const skip = await cephSkipReason()
let cluster: TestCluster
let state: StateCluster
const roots: string[] = []

/** A server's root: the site file only, as a fresh machine that joins has it. */
async function server(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pxeroot-state-'))
  roots.push(dir)
  await fs.mkdir(path.join(dir, 'etc/pxeroot'), {recursive: true})
  await fs.writeFile(path.join(dir, 'etc/pxeroot/pxeroot.yaml'), await seedServersSiteText())
  return dir
}
const site = async (dir: string) => parseSite(await fs.readFile(path.join(dir, 'etc/pxeroot/pxeroot.yaml'), 'utf8'))
const write = (dir: string, p: string, data: string | Buffer) => fs.mkdir(path.dirname(path.join(dir, p)), {recursive: true}).then(() => fs.writeFile(path.join(dir, p), data))
const read = (dir: string, p: string) => fs.readFile(path.join(dir, p), 'utf8')

describe.skipIf(skip !== undefined)(`the site state in the cluster${skip ? ` (${skip})` : ''}`, () => {
  beforeAll(async () => {
    cluster = await sharedCluster()
    // Each test file its own namespace of the run's cluster: files run side by side.
    state = {conf: cluster.conf, id: 'admin', pool: cluster.pool, namespace: `${STATE_NAMESPACE}.test-${process.pid}`, netns: cluster.namespace}
  }, 300_000)

  afterAll(async () => {
    for (const dir of roots) await fs.rm(dir, {recursive: true, force: true})
  })

  it('one server\'s change reaches the other: inventory, a revision\'s metadata and its kernel, byte for byte', async () => {
    const [a, b] = [await server(), await server()]
    const kernel = Buffer.concat([Buffer.from('MZ'), Buffer.alloc(700_000, 7)])
    await withClusterLock({...testContext(a), server: 'boot1'}, await site(a), state, 'nodes add node01', async () => {
      await write(a, 'etc/pxeroot/nodes.yaml', 'nodes:\n  - {name: node01, ip: 192.168.0.201}\n')
      await write(a, 'srv/pxeroot/images/debian-bookworm/1/manifest.json', '{"format": 1}\n')
      await fs.symlink('1', path.join(a, 'srv/pxeroot/images/debian-bookworm/current'))
      await write(a, 'var/lib/tftpboot/pxeroot/debian-bookworm/1/vmlinuz', kernel)
    })
    // b joins with nothing but the site file, and finds everything a stored.
    await withClusterLock({...testContext(b), server: 'boot2'}, await site(b), state, 'apply', async () => undefined)
    expect(await read(b, 'etc/pxeroot/nodes.yaml')).toBe('nodes:\n  - {name: node01, ip: 192.168.0.201}\n')
    expect(await fs.readlink(path.join(b, 'srv/pxeroot/images/debian-bookworm/current'))).toBe('1')
    expect(await read(b, 'srv/pxeroot/images/debian-bookworm/1/manifest.json')).toBe('{"format": 1}\n')
    expect((await fs.readFile(path.join(b, 'var/lib/tftpboot/pxeroot/debian-bookworm/1/vmlinuz'))).equals(kernel)).toBe(true)
    const [baseA, baseB] = [await readBase(testContext(a).root), await readBase(testContext(b).root)]
    expect(baseB?.version).toBe(baseA?.version)
    // And back: b removes the node, a sees it gone.
    await withClusterLock({...testContext(b), server: 'boot2'}, await site(b), state, 'nodes rm node01', async () => {
      await write(b, 'etc/pxeroot/nodes.yaml', 'nodes: []\n')
    })
    await withClusterLock({...testContext(a), server: 'boot1'}, await site(a), state, 'apply', async () => undefined)
    expect(await read(a, 'etc/pxeroot/nodes.yaml')).toBe('nodes: []\n')
  }, 120_000)

  it('doctor says whether this server\'s copy is in step, has changes not stored, or the cluster does not answer', async () => {
    const a = await server()
    const ctx = {...testContext(a), server: 'boot1'}
    await withClusterLock(ctx, await site(a), state, 'apply', async () => undefined)
    // A run that changed nothing writes no version: the last writer may be another test's server.
    expect(await siteStateCheck(ctx, await site(a), state)).toMatchObject({status: 'ok', message: expect.stringMatching(/^in the cluster \(pool rbd, namespace pxeroot\.site\.test-\d+\): version \d+ by boot[12] \(.*\); this server's copy is in step$/)})
    await write(a, 'etc/pxeroot/nodes.yaml', 'nodes: []\n# a killed run left this\n')
    expect(await siteStateCheck(ctx, await site(a), state)).toMatchObject({status: 'warn', message: expect.stringMatching(/^1 change\(s\) here not stored in the cluster/)})
    const conf = path.join(a, 'dead.conf')
    await fs.writeFile(conf, (await fs.readFile(cluster.conf, 'utf8')).replace(/mon[ _]host *=.*\n/, 'mon_host = 10.77.0.252:6789\n'))
    expect(await siteStateCheck(ctx, await site(a), {...state, conf})).toMatchObject({status: 'fail', message: expect.stringMatching(/^the Ceph cluster that holds the site's state did not answer .*; its copy is from /)})
  }, 120_000)

  it('a second run is refused busy (exit 5) while the first holds the lock, naming it; nothing of the second runs', async () => {
    const [a, b] = [await server(), await server()]
    let release!: () => void
    const held = new Promise<void>((resolve) => {
      release = resolve
    })
    let entered!: () => void
    const inside = new Promise<void>((resolve) => {
      entered = resolve
    })
    const first = withClusterLock({...testContext(a), server: 'boot1'}, await site(a), state, 'nodes clone 10', async () => {
      entered()
      await held
      await write(a, 'etc/pxeroot/nodes.yaml', 'nodes:\n  - {name: node01, ip: 192.168.0.201}\n')
    })
    await inside
    let ran = false
    const second = await withClusterLock({...testContext(b), server: 'boot2'}, await site(b), state, 'nodes clone 10', async () => {
      ran = true
    }).catch((e: unknown) => e)
    release()
    await first
    expect(second).toBeInstanceOf(BusyError)
    expect((second as BusyError).exitCode).toBe(EXIT.busy)
    expect((second as Error).message).toMatch(/^the site is busy: another pxeroot run holds its lock in the cluster \(boot1, pid \d+: nodes clone 10, since .*\); nothing was changed$/)
    expect(ran).toBe(false)
  }, 120_000)

  it('a run killed while it held the lock keeps others out for the lock\'s lifetime, no longer', async () => {
    const [a] = [await server()]
    const dead = new ClusterStore(testContext(a), state, writerOf('nodes clone 3', 'boot1'))
    await dead.lock()
    // Its session dies without unlocking (SIGKILL), as a killed run's does.
    await (dead as unknown as {session: {fail(e: Error): void}}).session.fail(new Error('killed'))
    const t0 = Date.now()
    const refused = await withClusterLock(testContext(a), await site(a), state, 'apply', async () => undefined).catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(BusyError)
    let took: number | undefined
    while (Date.now() - t0 < (LOCK_SECONDS + 20) * 1000) {
      const r = await withClusterLock(testContext(a), await site(a), state, 'apply', async () => undefined).then(() => true, (e: unknown) => {
        if (e instanceof BusyError) return false
        throw e
      })
      if (r) {
        took = (Date.now() - t0) / 1000
        break
      }
      await new Promise((resolve) => setTimeout(resolve, 2000))
    }
    expect(took).toBeDefined()
    expect(took!).toBeLessThan(LOCK_SECONDS + 15)
  }, 180_000)

  it('a cluster that does not answer: the change is refused (exit 3) within the bound, and the command never runs', async () => {
    const a = await server()
    const conf = path.join(a, 'dead.conf')
    // A monitor at an address of the cluster's subnet where nothing listens.
    await fs.writeFile(conf, (await fs.readFile(cluster.conf, 'utf8')).replace(/mon[ _]host *=.*\n/, 'mon_host = 10.77.0.252:6789\n'))
    const t0 = Date.now()
    let ran = false
    const error = await withClusterLock(testContext(a), await site(a), {...state, conf}, 'nodes add node09', async () => {
      ran = true
    }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(PreconditionError)
    expect((error as Error).message).toMatch(/^the Ceph cluster that holds the site's state did not answer .*; this server changes nothing without it$/)
    expect(ran).toBe(false)
    expect(Date.now() - t0).toBeLessThan(40_000)
  }, 120_000)
})
