/**
 * `servers takeover` on an rbd gateway (issue 18), against the run's real cluster: boot1 and
 * boot2 are two servers' roots on this host sharing one pool. boot1 attaches its node's clone
 * (a real librbd client in its own qemu-storage-daemon) and writes and syncs a file through the
 * mount, which takes the clone's exclusive lock; boot1 is then lost (its daemon frozen with
 * SIGSTOP: alive, holding the lock, as a hung server would). boot2's takeover blocklists that
 * client's instance address, breaks its lock, attaches the clone and exports it with the same
 * Export_Id: boot1's synced file reads back through boot2's export (the real Ganesha, nfs-cat),
 * the lock is boot2's, and once thawed the fenced daemon's write fails and never reaches the
 * clone. Also: --dry-run and a lost server that still answers (its TFTP server, in a network
 * namespace of the test's) change nothing; a cluster that does not answer is refused, exit 3.
 * Every blocklist entry the test made is removed at the end; keys and namespaces are the test's
 * own (a node prefix of its own).
 */
import {randomBytes} from 'node:crypto'
import {promises as fs} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {execa} from 'execa'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {applyBootConfig} from '../../src/apply/apply.js'
import {takeoverReport} from '../../src/cli/servers-report.js'
import {GANESHA_PATHS} from '../../src/backends/nfs/ganesha.js'
import {withStorageSection} from '../../src/config/site-edit.js'
import {EXIT, PreconditionError} from '../../src/errors.js'
import {cloneNodes} from '../../src/services/nodes-clone.js'
import {takeOver, type TakeoverResult} from '../../src/services/servers-takeover.js'
import {type DetachedRecord} from '../../src/system/detached.js'
import {execaRunner, type Runner} from '../../src/system/runner.js'
import {planFence} from '../../src/storage/rbd/fence.js'
import {attachGateway, detachGateway, GATEWAY_DIR} from '../../src/storage/rbd/gateway.js'
import {loadSite} from '../../src/config/site-file.js'
import {makeRoot} from '../../src/system/paths.js'
import {cephSkipReason} from '../support/ceph.js'
import {startGanesha} from '../support/ganesha-netns.js'
import {createHttpNet, waitListening} from '../support/http-net.js'
import {goldenRbdSite, leftovers, type RbdSite} from '../support/rbd-site.js'
import {testContext} from '../support/tmp-root.js'

const skip = await cephSkipReason()
const GANESHA_ADDR = '10.88.79.18'
const PREFIX = `nodetko${randomBytes(2).toString('hex')}`
const NODE = `${PREFIX}01`
/** boot2's own node: served beside the one it takes over (two clones of one revision, each with its own ext4 UUID). */
const NODE2 = `${PREFIX}02`
const TWO = (site: string) => site.replace('server: 10.77.0.1\n', 'servers:\n  - {name: boot1, address: 10.77.0.1}\n  - {name: boot2, address: 10.77.0.2}\n')
  .replace('nodes:\n', `nodes:\n  prefix: ${PREFIX}\n`)

interface Locker {
  locker: string
  address: string
}

describe.skipIf(skip)(`servers takeover on an rbd gateway fences the lost server${skip ? ` (skipped: ${skip})` : ''}`, () => {
  const fixture = goldenRbdSite()
  let s: RbdSite
  let boot2 = ''
  const extra: string[] = []
  const blocklisted = new Set<string>()
  const on1 = () => ({...testContext(s.dir), server: 'boot1'})
  const on2 = () => ({...testContext(boot2), server: 'boot2'})
  const image = () => `${s.pool}/${NODE}/root`
  const lockers = async (): Promise<Locker[]> => {
    const out = JSON.parse(await s.cluster.rbd(['lock', 'ls', image(), '--format', 'json'])) as Locker[] | Record<string, Omit<Locker, 'id'>>
    return Array.isArray(out) ? out : Object.values(out) as Locker[]
  }
  const blocklist = async () => (await s.cluster.ceph(['osd', 'blocklist', 'ls'])).split('\n').map((l) => l.split(' ')[0]).filter(Boolean)
  const boot1Daemon = async () => (JSON.parse(await fs.readFile(path.join(s.dir, GATEWAY_DIR, `${NODE}.json`), 'utf8')) as DetachedRecord).server!.pid
  /** What a refused takeover must leave as it was: the inventory, the exports, nothing attached on boot2, the fence. */
  const state = async () => ({
    inventory: await fs.readFile(path.join(boot2, 'etc/pxeroot/nodes.yaml'), 'utf8'),
    exports: await fs.readFile(path.join(boot2, GANESHA_PATHS.exports), 'utf8'),
    attached: await leftovers(boot2),
    lockers: await lockers(),
    blocklist: await blocklist(),
  })

  beforeAll(async () => {
    s = fixture.site
    const file = path.join(s.dir, 'etc/pxeroot/pxeroot.yaml')
    const site = await s.site()
    await fs.writeFile(file, TWO(withStorageSection(await fs.readFile(file, 'utf8'), {backend: 'rbd', rbd: {...site.storage.rbd!, mode: 'gateway'}})))
    // boot1 clones the node (its root is boot1's) and renders its share; boot2 is a copy of that
    // machine's state, as every server keeps one, and renders its own.
    await cloneNodes(on1(), {count: 1})
    await cloneNodes({...testContext(s.dir), server: 'boot2'}, {count: 2})
    boot2 = await fs.mkdtemp(path.join(os.tmpdir(), 'pxeroot-rbd-boot2-'))
    await execa('cp', ['-a', '--one-file-system', `${s.dir}/.`, boot2])
    // Each machine renders its own share (the second clone ran as boot2 on boot1's files).
    await applyBootConfig(on1())
    await applyBootConfig(on2())
    expect(await fs.readFile(path.join(boot2, GANESHA_PATHS.exports), 'utf8')).not.toContain(`/srv/nodes/${NODE}"`)
    expect(await attachGateway(on2(), await loadSite(makeRoot(boot2)), NODE2)).toBe(true)
    // boot1 serves the node: its clone attached, a file written and synced through the mount.
    expect(await attachGateway(on1(), await loadSite(makeRoot(s.dir)), NODE)).toBe(true)
    const written = await fs.open(path.join(s.dir, 'srv/nodes', NODE, 'root/from-boot1'), 'w')
    await written.writeFile('synced by boot1\n')
    await written.sync()
    await written.close()
    await execa('sync', ['-f', path.join(s.dir, 'srv/nodes', NODE, 'root')])
  }, 900_000)

  afterAll(async () => {
    if (!s) return
    // The lost daemon may still be frozen: thawed, so that its end can be waited for.
    await boot1Daemon().then((pid) => process.kill(pid, 'SIGCONT'), () => undefined)
    for (const [dir, server] of [[s.dir, 'boot1'], [boot2, 'boot2'], ...extra.map((d) => [d, 'boot2'])]) {
      for (const node of [NODE, NODE2]) if (dir) await detachGateway({...testContext(dir), server}, await loadSite(makeRoot(dir)), node).catch(() => undefined)
    }
    for (const address of blocklisted) await s.cluster.ceph(['osd', 'blocklist', 'rm', address]).catch(() => undefined)
    for (const dir of [boot2, ...extra]) if (dir) await execa('rm', ['-rf', '--one-file-system', '--', dir])
  }, 300_000)

  it('refuses, changing nothing, while the lost server still answers (unless --force); --dry-run shows the fence and changes nothing', async () => {
    const holder = await lockers()
    expect(holder).toHaveLength(1)
    const before = await state()
    // boot1's TFTP server answers at its address, in a network of the test's own.
    const net = await createHttpNet({server: '10.77.0.1/24', clients: ['10.77.0.2/24']}, 'pxeroot-tko')
    try {
      net.start(['in.tftpd', '--listen', '--foreground', '--user', 'root', '--address', '10.77.0.1:69', '--secure', path.join(s.dir, 'var/lib/tftpboot')], 120_000, path.join(boot2, 'tftpd.log'))
      await waitListening(net, '10.77.0.1', 69, 'udp')
      const base = execaRunner()
      const probe: Runner = {run: (command, args, options) => base.run('ip', ['netns', 'exec', net.client, command, ...args], options)}
      const error = await takeOver(on2(), {lost: 'boot1', to: 'boot2', probe}).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(PreconditionError)
      expect((error as PreconditionError).exitCode).toBe(EXIT.precondition)
      expect((error as Error).message).toBe('boot1 is not lost: its TFTP server at 10.77.0.1 answered within 2 s, so it is up and may still write the roots it holds; two servers writing one root corrupt its ext4; nothing was changed')
      expect((error as PreconditionError).suggestion).toMatch(/add --force/)
      expect(await state()).toEqual(before)
      // --force goes past the probe; --dry-run shows whom it would fence, and fences no one.
      const dry = await takeOver(on2(), {lost: 'boot1', to: 'boot2', probe, force: true, dryRun: true})
      expect(dry.liveness).toEqual({asked: true, address: '10.77.0.1', up: true, forced: true})
      expect(dry.fence).toEqual({targets: [{node: NODE, image: image(), lockers: [expect.objectContaining({address: holder[0].address})], watchers: [holder[0].address]}], skipped: [], addresses: [holder[0].address], attached: []})
      expect(dry.moved).toEqual([NODE])
      expect(dry.diff).toMatch(/^\+\s+server: boot2$/m)
      expect(dry.diff).toContain(`Path = "/srv/nodes/${NODE}";`)
      expect(await state()).toEqual(before)
    } finally {
      await net.destroy()
    }
  }, 300_000)

  it('fences the lost gateway: its client blocklisted, its lock broken, the clone attached and exported on boot2 with the same Export_Id; the fenced client\'s write never reaches the clone', async () => {
    const [lost] = await lockers()
    const daemon = await boot1Daemon()
    // boot1 is lost but its daemon lives on, frozen: it holds the lock and could wake at any time.
    process.kill(daemon, 'SIGSTOP')
    let result: TakeoverResult
    const started = performance.now()
    try {
      result = await takeOver(on2(), {lost: 'boot1', to: 'boot2'})
    } finally {
      for (const a of await blocklist()) if (a === lost.address) blocklisted.add(a)
    }
    const seconds = (performance.now() - started) / 1000
    process.stderr.write(`takeover in ${seconds.toFixed(1)} s:\n${takeoverReport(result)}`)
    expect(seconds).toBeLessThan(120)
    expect(result.liveness).toEqual({asked: false, why: expect.stringMatching(/^--root .*: the site's addresses are not this machine's network's$/)})
    expect(result.moved).toEqual([NODE])
    expect(result.fence?.done).toEqual({blocklisted: [lost.address], expireSeconds: 7 * 24 * 3600, broken: [{node: NODE, client: lost.locker, address: lost.address}]})
    expect(result.fence?.attached).toEqual([NODE])
    // In the cluster: the lost client is blocklisted and the lock is a client of boot2's.
    expect(await blocklist()).toContain(lost.address)
    const now = await lockers()
    expect(now).toHaveLength(1)
    expect(now[0].address).not.toBe(lost.address)
    expect(JSON.parse(await s.cluster.rbd(['status', image(), '--format', 'json'])) as {watchers: {address: string}[]}).toEqual({watchers: [expect.objectContaining({address: now[0].address})]})
    // Exported by boot2 with the Export_Id boot1 gave it; what boot1 synced reads back over NFS.
    const id = (text: string) => new RegExp(`Export_Id = (\\d+);[^}]*?Path = "/srv/nodes/${NODE}";`, 's').exec(text)?.[1]
    const exports2 = await fs.readFile(path.join(boot2, GANESHA_PATHS.exports), 'utf8')
    expect(id(exports2)).toBe(id(await fs.readFile(path.join(s.dir, GANESHA_PATHS.exports), 'utf8')))
    expect(id(exports2)).toBeDefined()
    const ganesha = await startGanesha(await fs.mkdtemp(path.join(os.tmpdir(), 'pxeroot-tko-ganesha-')), GANESHA_ADDR, exports2, (p) => path.join(boot2, p))
    try {
      expect(ganesha.cat(path.join(boot2, 'srv/nodes', NODE, 'root/from-boot1'))).toBe('synced by boot1')
      // boot2's own node is served beside it: each clone has its own ext4 UUID (an NFS server's fsid), not their revision's.
      expect(ganesha.cat(path.join(boot2, 'srv/nodes', NODE2, 'etc/hostname'))).toBe(NODE2)
    } finally {
      await ganesha.stop()
      await fs.rm(ganesha.dir, {recursive: true, force: true})
    }
    // boot2 writes; then the fenced daemon wakes and tries to: its write fails.
    const mine = await fs.open(path.join(boot2, 'srv/nodes', NODE, 'root/from-boot2'), 'w')
    await mine.writeFile('written by boot2\n')
    await mine.sync()
    await mine.close()
    process.kill(daemon, 'SIGCONT')
    const fenced = await execa('timeout', ['-k', '5', '120', 'dd', 'if=/dev/urandom', `of=${path.join(s.dir, 'srv/nodes', NODE, 'root/from-fenced')}`, 'bs=64k', 'count=4', 'conv=fsync'], {reject: false})
    expect(fenced.exitCode, fenced.stderr).not.toBe(0)
    expect(fenced.stderr).toMatch(/Input\/output error|Read-only file system/)
    expect((await lockers()).map((l) => l.address)).toEqual([now[0].address])
    // The clone as the cluster keeps it, attached afresh: boot1's and boot2's files, not the fenced one.
    const site2 = await loadSite(makeRoot(boot2))
    expect(await detachGateway(on2(), site2, NODE)).toBe(true)
    expect(await detachGateway(on1(), await loadSite(makeRoot(s.dir)), NODE)).toBe(true)
    expect(await attachGateway(on2(), site2, NODE)).toBe(true)
    const root = path.join(boot2, 'srv/nodes', NODE, 'root')
    expect(await fs.readFile(path.join(root, 'from-boot1'), 'utf8')).toBe('synced by boot1\n')
    expect(await fs.readFile(path.join(root, 'from-boot2'), 'utf8')).toBe('written by boot2\n')
    await expect(fs.stat(path.join(root, 'from-fenced'))).rejects.toThrow(/ENOENT/)
    expect(await detachGateway(on2(), site2, NODE)).toBe(true)
    expect(await detachGateway(on2(), site2, NODE2)).toBe(true)
    // Nothing left on either server; the test's blocklist entry goes, so no later test meets it.
    for (const a of blocklisted) await s.cluster.ceph(['osd', 'blocklist', 'rm', a])
    expect(await blocklist()).not.toContain(lost.address)
    blocklisted.clear()
    expect(await leftovers(s.dir)).toEqual([])
    expect(await leftovers(boot2)).toEqual([])
  }, 600_000)

  it('refuses, exit 3, when the cluster does not answer; nothing attached, nothing changed', async () => {
    // A third server whose ceph.conf names a monitor that is not there.
    const boot3 = await fs.mkdtemp(path.join(os.tmpdir(), 'pxeroot-rbd-boot3-'))
    extra.push(boot3)
    for (const dir of ['etc', 'var']) await execa('cp', ['-a', '--one-file-system', path.join(boot2, dir), boot3])
    const conf = path.join(boot3, 'etc/ceph/ceph.conf')
    const text = (await fs.readFile(conf, 'utf8')).replace(/^mon_host = .*$/m, 'mon_host = v2:10.77.0.252:3300,v1:10.77.0.252:6789')
    await fs.rm(conf)
    await fs.writeFile(conf, text)
    // boot2 holds the node now: boot3 takes over from it.
    const before = await fs.readFile(path.join(boot3, 'etc/pxeroot/nodes.yaml'), 'utf8')
    const started = performance.now()
    const error = await takeOver({...testContext(boot3), server: 'boot1'}, {lost: 'boot2', to: 'boot1'}).catch((e: unknown) => e)
    expect((performance.now() - started) / 1000).toBeLessThan(60)
    expect(error).toBeInstanceOf(PreconditionError)
    expect((error as Error).message).toMatch(/did not answer/)
    expect(await fs.readFile(path.join(boot3, 'etc/pxeroot/nodes.yaml'), 'utf8')).toBe(before)
    expect(await leftovers(boot3)).toEqual([])
    // The fence's own requests are bounded too (a cluster lost after the state lock was taken).
    const fenceStarted = performance.now()
    const refused = await planFence({...testContext(boot3), server: 'boot1'}, await loadSite(makeRoot(boot3)), [NODE]).catch((e: unknown) => e)
    expect((performance.now() - fenceStarted) / 1000).toBeLessThan(60)
    expect(refused).toBeInstanceOf(PreconditionError)
    expect((refused as Error).message).toMatch(/^the Ceph cluster did not answer while fencing \(.*\); nothing was fenced, attached or changed$/)
    expect(await leftovers(boot3)).toEqual([])
  }, 300_000)
})
