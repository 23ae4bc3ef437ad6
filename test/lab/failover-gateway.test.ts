/**
 * An rbd gateway's node keeps its NFS root across a takeover (issue 18), in VMs: a site whose
 * roots are RBD clones in the run's shared cluster, attached and exported by two gateway servers
 * (storage.rbd.mode: gateway; boot1 and boot2 are two roots on this host, each with its own
 * qemu-storage-daemons). node01's root is boot1's, a writer in it that syncs a counter every
 * second; node02's is boot2's. node01 boots from the pair; boot1 is lost (its lab daemons killed,
 * its address gone) while its qemu-storage-daemon lives on, holding node01's clone's lock; boot2
 * takes over: fences that client (blocklist, lock broken), attaches the clone and exports it at
 * boot1's address with the same Export_Id; node02 boots from boot2 alone. node01's writes go on
 * after the takeover, and every one its console called synced is in its clone afterwards, read
 * back from a fresh attachment of it. Needs root, qemu, Kea, tftpd-hpa, NFS-Ganesha, arping, Ceph
 * and qemu-storage-daemon.
 */
import {randomBytes} from 'node:crypto'
import {promises as fs} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {execa} from 'execa'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {applyBootConfig} from '../../src/apply/apply.js'
import {withStorageSection} from '../../src/config/site-edit.js'
import {loadSite} from '../../src/config/site-file.js'
import {failoverReport} from '../../src/lab/failover-report.js'
import {type FailoverResult} from '../../src/lab/pair.js'
import {labFailover} from '../../src/services/lab-failover.js'
import {cloneNodes} from '../../src/services/nodes-clone.js'
import {setNodeEntry} from '../../src/services/nodes-set.js'
import {attachGateway, detachGateway} from '../../src/storage/rbd/gateway.js'
import {makeRoot} from '../../src/system/paths.js'
import {cephSkipReason, sharedCluster} from '../support/ceph.js'
import {goldenSiteText} from '../support/golden.js'
import {ACCEL, expectBootedWithOneAddress, installed, isRoot, leftovers as labLeftovers, withDhcp} from '../support/lab-run.js'
import {WRITES_FILE, writerInRoot} from '../support/lab-writer.js'
import {importGolden, leftovers, rbdSite, type RbdSite} from '../support/rbd-site.js'
import {testContext} from '../support/tmp-root.js'

const PREFIX = `nodegw${randomBytes(2).toString('hex')}`
const [NODE1, NODE2] = [`${PREFIX}01`, `${PREFIX}02`]
const MAC2 = '52:54:00:ea:18:12'
const skip = isRoot ? (await cephSkipReason()) ?? (await installed('kea-dhcp4') ? (await installed('qemu-storage-daemon') ? undefined : 'qemu-storage-daemon is not installed') : 'kea-dhcp4 is not installed') : 'needs root'
let s: RbdSite
let boot2 = ''
const blocklisted: string[] = []
const on = (dir: string, server: string) => ({...testContext(dir), server})
/** node01's clone's lockers, as `rbd lock ls` lists them. */
async function lockers(): Promise<{address: string}[]> {
  const out = JSON.parse(await s.cluster.rbd(['lock', 'ls', `${s.pool}/${NODE1}/root`, '--format', 'json'])) as {address: string}[] | Record<string, {address: string}>
  return Array.isArray(out) ? out : Object.values(out)
}

describe.skipIf(skip !== undefined)(`an rbd gateway's node keeps its root across a takeover${skip ? ` (skipped: ${skip})` : ''}`, () => {
  beforeAll(async () => {
    s = await rbdSite(await sharedCluster(), {siteText: withDhcp('kea')(goldenSiteText())})
    await importGolden(s)
    const file = path.join(s.dir, 'etc/pxeroot/pxeroot.yaml')
    const site = await s.site()
    const text = withStorageSection(await fs.readFile(file, 'utf8'), {backend: 'rbd', rbd: {...site.storage.rbd!, mode: 'gateway'}})
    await fs.writeFile(file, text.replace('server: 10.77.0.1\n', 'servers:\n  - {name: boot1, address: 10.77.0.1}\n  - {name: boot2, address: 10.77.0.2}\n')
      .replace('nodes:\n', `nodes:\n  prefix: ${PREFIX}\n`))
    // node01's root is boot1's, node02's boot2's: each cloned where its server runs.
    await cloneNodes(on(s.dir, 'boot1'), {count: 1})
    await cloneNodes(on(s.dir, 'boot2'), {count: 2})
    await setNodeEntry(on(s.dir, 'boot1'), NODE2, {mac: MAC2})
    // boot2's machine: the same state (every server keeps a copy), its own share rendered.
    boot2 = await fs.mkdtemp(path.join(os.tmpdir(), 'pxeroot-gw-boot2-'))
    await execa('cp', ['-a', '--one-file-system', `${s.dir}/.`, boot2])
    await applyBootConfig(on(s.dir, 'boot1'))
    await applyBootConfig(on(boot2, 'boot2'))
    // Each gateway attaches the roots it holds (apply does on a server; under --root the test does).
    const site1 = await loadSite(makeRoot(s.dir))
    expect(await attachGateway(on(s.dir, 'boot1'), site1, NODE1)).toBe(true)
    await writerInRoot(path.join(s.dir, 'srv/nodes', NODE1))
    await execa('sync', ['-f', path.join(s.dir, 'srv/nodes', NODE1)])
    expect(await attachGateway(on(boot2, 'boot2'), await loadSite(makeRoot(boot2)), NODE2)).toBe(true)
  }, 1_800_000)

  afterAll(async () => {
    if (!s) return
    for (const [dir, server] of [[s.dir, 'boot1'], [boot2, 'boot2']]) {
      if (!dir) continue
      const site = await loadSite(makeRoot(dir))
      for (const node of [NODE1, NODE2]) await detachGateway(on(dir, server), site, node).catch(() => undefined)
    }
    for (const address of blocklisted) await s.cluster.ceph(['osd', 'blocklist', 'rm', address]).catch(() => undefined)
    if (boot2) await execa('rm', ['-rf', '--one-file-system', '--', boot2])
    await s.cleanup()
  }, 300_000)

  it('node01 boots from boot1 (gateway); boot1 is lost; boot2 fences its client and takes over; node01\'s writes go on, every synced one in its clone', async () => {
    const [lost] = await lockers()
    const keep = `${s.dir}-lab-logs`
    let result: FailoverResult
    try {
      result = await labFailover(on(s.dir, 'boot1'), {before: [NODE1], after: [NODE2], takeover: true, serverRoots: {boot2}, timeout: 480, accel: ACCEL, keepLogs: keep})
    } catch (error) {
      result = (error as {result?: FailoverResult}).result!
      if (!result) throw error
    } finally {
      const listed = (await s.cluster.ceph(['osd', 'blocklist', 'ls'])).split('\n').map((l) => l.split(' ')[0])
      if (lost && listed.includes(lost.address)) blocklisted.push(lost.address)
    }
    process.stderr.write(failoverReport(result))
    const [n1] = result.before
    expect(n1, n1.reason).toMatchObject({name: NODE1, passed: true, hostname: NODE1, answeredBy: ['boot1']})
    expectBootedWithOneAddress(n1)
    expect(result.failover.state).toBe('partner-down')
    expect(result.takeover?.seconds).toBeLessThan(60)
    const [n2] = result.after
    expect(n2, n2.reason).toMatchObject({name: NODE2, passed: true, mac: MAC2, hostname: NODE2, answeredBy: ['boot2']})
    // boot1's client of node01's clone was fenced: in the blocklist; the lock is boot2's daemon's now.
    expect(blocklisted).toEqual([lost.address])
    const now = await lockers()
    expect(now.map((l) => l.address)).not.toContain(lost.address)
    // node01 stalled while its root had no server, then went on: no I/O error, no panic.
    const ran = result.ranOn[0]
    expect(ran, JSON.stringify(ran)).toMatchObject({name: NODE1, running: true})
    expect(ran.nfsTrouble.filter((l) => /Input\/output error|Kernel panic/.test(l))).toEqual([])
    expect(ran.writes!.atLoss).toBeGreaterThan(0)
    expect(ran.writes!.last).toBeGreaterThan(ran.writes!.atLoss + 10)
    expect(result.passed).toBe(true)
    await fs.rm(keep, {recursive: true, force: true})
    expect(await labLeftovers()).toEqual({namespaces: [], mounts: [], processes: []})
    // Every write the node's console called synced is in its clone, as the cluster keeps it: boot2
    // lets go of it, and it is attached afresh.
    const site2 = await loadSite(makeRoot(boot2))
    expect(await detachGateway(on(boot2, 'boot2'), site2, NODE1)).toBe(true)
    expect(await detachGateway(on(s.dir, 'boot1'), await loadSite(makeRoot(s.dir)), NODE1)).toBe(true)
    expect(await attachGateway(on(boot2, 'boot2'), site2, NODE1)).toBe(true)
    const written = (await fs.readFile(path.join(boot2, 'srv/nodes', NODE1, WRITES_FILE), 'utf8')).trim().split('\n').map((l) => Number(l.split(' ')[0]))
    expect(written.length).toBeGreaterThanOrEqual(ran.writes!.last)
    expect(written.slice(0, ran.writes!.last)).toEqual(Array.from({length: ran.writes!.last}, (_, i) => i + 1))
    for (const node of [NODE1, NODE2]) await detachGateway(on(boot2, 'boot2'), site2, node)
    expect(await leftovers(boot2)).toEqual([])
    expect(await leftovers(s.dir)).toEqual([])
  }, 1_500_000)
})
