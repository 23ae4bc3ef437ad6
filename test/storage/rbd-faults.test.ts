/**
 * What goes wrong on an rbd site, against the run's real cluster, and what it leaves: a full pool
 * (a quota), a root that cannot be attached, a cluster that does not answer, and a run killed
 * with roots attached. Each is a clean refusal, or cleaned by the next run: no mapping, mount,
 * FUSE process, loop device or half-made image is left.
 */
import {promises as fs} from 'node:fs'
import path from 'node:path'

import {execa} from 'execa'
import {beforeAll, describe, expect, it} from 'vitest'

import ImageImport from '../../src/commands/image/import.js'
import NodesClone from '../../src/commands/nodes/clone.js'
import NodesRm from '../../src/commands/nodes/rm.js'
import {withStorageSection} from '../../src/config/site-edit.js'
import {loadInventory} from '../../src/inventory/inventory.js'
import {manifestFor} from '../archive/synthetic.js'
import {cephSkipReason, type TestCluster} from '../support/ceph.js'
import {goldenArchive, goldenRbdSite, leftovers, type RbdSite} from '../support/rbd-site.js'
import {PROJECT, runCommand} from '../support/run-command.js'
import {snapshotTree} from '../support/tmp-root.js'

const skip = await cephSkipReason()

describe.skipIf(skip)(`faults on an rbd site${skip ? ` (skipped: ${skip})` : ''}`, () => {
  const fixture = goldenRbdSite()
  let cluster: TestCluster
  let s: RbdSite
  const images = (ns: string) => s.images(ns)
  const nodeImages = async () => (await Promise.all((await s.namespaces()).filter((n) => n !== 'revisions').map(async (ns) => (await images(ns)).map((i) => `${ns}/${i}`)))).flat()
  const quota = (bytes: number) => cluster.ceph(['osd', 'pool', 'set-quota', s.pool, 'max_bytes', String(bytes)])
  const stored = async () => (JSON.parse(await cluster.ceph(['df', '--format', 'json'])) as {pools: {name: string, stats: {stored: number}}[]}).pools.find((p) => p.name === s.pool)!.stats.stored

  /**
   * The pool's bytes once the cluster's count has caught up with the import before (the OSD
   * reports every few seconds): a quota set under a stale count makes the pool full at once,
   * which is the case of its own below.
   */
  const settledStored = async () => {
    let last = await stored()
    for (let i = 0; i < 30; i++) {
      await new Promise((r) => setTimeout(r, 3000))
      const now = await stored()
      if (now === last) return now
      last = now
    }
    return last
  }
  const poolFlags = async () => (JSON.parse(await cluster.ceph(['osd', 'dump', '--format', 'json'])) as {pools: {pool_name: string, flags_names: string}[]}).pools.find((p) => p.pool_name === s.pool)?.flags_names ?? ''

  beforeAll(() => {
    ({cluster, site: s} = fixture)
  })

  it('a full pool: nodes clone and image import are refused before anything is made (exit 2)', async () => {
    const revisions = await images('revisions')
    const etc = await snapshotTree(path.join(s.dir, 'etc'))
    await quota(await settledStored() + 8 * 2 ** 20)
    try {
      const clone = await runCommand(NodesClone, ['2', ...s.root])
      expect(clone.code).toBe(2)
      expect(clone.error?.message).toMatch(new RegExp(`^nodes clone: pool ${s.pool} is full: 2 clone\\(s\\) need about 32 MiB and it has [0-9.]+ MiB free; nothing was created`))
      const imp = await runCommand(ImageImport, [await goldenArchive(), '--name', 'full', ...s.root])
      expect(imp.code).toBe(2)
      expect(imp.error?.message).toMatch(new RegExp(`^publishing full@1: pool ${s.pool} is full: its image needs about \\d+ MiB and it has [0-9.]+ MiB free; nothing was created`))
    } finally {
      await quota(0)
    }
    // (Read once the quota is lifted: listing a namespace of a pool over its quota blocks.)
    expect(await snapshotTree(path.join(s.dir, 'etc'))).toEqual(etc)
    expect(await nodeImages()).toEqual([])
    expect(await images('revisions')).toEqual(revisions)
    expect(await fs.readdir(path.join(s.dir, 'srv/pxeroot/images/full')).catch(() => [])).toEqual([])
    expect(await leftovers(s.dir)).toEqual([])
  }, 600_000)

  it('a root that cannot be mounted: the clone is refused and its attachment, loop, export and half-made image are gone', async () => {
    // A revision whose image holds no filesystem: clones of it attach, and their mount fails.
    await cluster.rbd(['create', '--size', '64M', `${s.pool}/revisions/broken-1`])
    await cluster.rbd(['snap', 'create', `${s.pool}/revisions/broken-1@1`])
    await cluster.rbd(['snap', 'protect', `${s.pool}/revisions/broken-1@1`])
    const dir = path.join(s.dir, 'srv/pxeroot/images/broken/1')
    await fs.mkdir(dir, {recursive: true})
    await fs.writeFile(path.join(dir, 'manifest.json'), JSON.stringify({...manifestFor('broken', 1), storage: 'rbd'}))
    const before = await loadInventory(s.ctx.root)
    const r = await runCommand(NodesClone, ['1', '--image', 'broken@1', ...s.root])
    expect(r.code).toBe(4)
    // Refused where the root is first read as an ext4: giving it its own UUID (tune2fs), before any mount.
    expect(r.error?.message).toMatch(/^1 of 1 clone\(s\) failed: node01: tune2fs .*Bad magic number in super-block/)
    expect(await loadInventory(s.ctx.root)).toEqual(before)
    expect(await nodeImages()).toEqual([])
    expect(await leftovers(s.dir)).toEqual([])
  }, 300_000)

  it('a cluster that does not answer: refused within its bound, nothing made, no client left', async () => {
    const siteFile = path.join(s.dir, 'etc/pxeroot/pxeroot.yaml')
    const text = await fs.readFile(siteFile, 'utf8')
    await fs.writeFile(path.join(s.dir, 'etc/ceph/dead.conf'), (await fs.readFile(cluster.conf, 'utf8')).replaceAll('10.77.0.253', '10.77.0.252'))
    const site = await s.site()
    await fs.writeFile(siteFile, withStorageSection(text, {backend: 'rbd', rbd: {...site.storage.rbd!, cephConf: '/etc/ceph/dead.conf'}}))
    try {
      const t0 = Date.now()
      const r = await runCommand(NodesClone, ['1', ...s.root])
      // The site's state is in the cluster too: its store refuses first, as every command on this site (exit 3).
      expect(r.code).toBe(3)
      expect(r.error?.message).toMatch(/^the Ceph cluster that holds the site's state did not answer \(.*timed out.*\); this server changes nothing without it \(check .*"ceph -s" with .*dead.conf/)
      expect(Date.now() - t0).toBeLessThan(60_000)
      expect((await loadInventory(s.ctx.root)).nodes).toEqual([])
      expect(await leftovers(s.dir)).toEqual([])
    } finally {
      await fs.writeFile(siteFile, text)
    }
    expect(await nodeImages()).toEqual([])
  }, 120_000)

  it('a run killed with a root attached: its daemon dies with it, and the next run removes the dead mount and loop device', async () => {
    expect((await runCommand(NodesClone, ['1', ...s.root])).error?.message).toBeUndefined()
    // A pxeroot run that opens node01's root, says so, and is then killed.
    const script = path.join(PROJECT, 'test/support/open-root.ts')
    const child = execa(process.execPath, ['--import', 'tsx', script, s.dir, 'node01'], {reject: false, cwd: PROJECT, timeout: 120_000})
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('opened')) resolve()
      })
      void child.then((r) => reject(new Error(`the run ended before it opened the root: ${r.stderr}`)))
    })
    expect((await leftovers(s.dir)).filter((l) => l.startsWith('mount')).length).toBeGreaterThan(0)
    child.kill('SIGKILL')
    await child
    // Its qemu-storage-daemon died with it (the parent-death signal); its mounts and loop device are still there, dead.
    for (let i = 0; i < 50 && (await leftovers(s.dir)).some((l) => l.startsWith('process')); i++) await new Promise((r) => setTimeout(r, 100))
    expect((await leftovers(s.dir)).filter((l) => l.startsWith('process'))).toEqual([])
    expect((await leftovers(s.dir)).filter((l) => l.startsWith('loop')).length).toBe(1)
    // The next run that attaches cleans it all, and works.
    const next = await runCommand(NodesClone, ['2', ...s.root])
    expect(next.error?.message).toBeUndefined()
    expect(next.stderr).toMatch(/removed what a killed run left attached in .*\/run\/pxeroot\/rbd\//)
    expect(await leftovers(s.dir)).toEqual([])
  }, 300_000)

  it('a pool over its quota: every change is refused at once as a full pool (exit 2), not as a cluster that does not answer; nothing changed', async () => {
    const before = await nodeImages()
    const inventory = await loadInventory(s.ctx.root)
    expect(before).toContain('node02/root')
    await quota(2 ** 20)
    try {
      // The monitor flags the pool once the OSD's count reaches it (a few seconds).
      for (let i = 0; i < 60 && !(await poolFlags()).includes('full_quota'); i++) await new Promise((r) => setTimeout(r, 1000))
      expect(await poolFlags()).toContain('full_quota')
      for (const [command, argv] of [[NodesClone, ['3']], [NodesRm, ['node02']]] as const) {
        const r = await runCommand(command, [...argv, ...s.root])
        expect({argv, code: r.code}).toEqual({argv, code: 2})
        expect(r.error?.message).toMatch(new RegExp(`^pool ${s.pool} is full \\(flagged [a-z_,]*full_quota\\): pxeroot changes nothing on a full pool`))
      }
    } finally {
      await quota(0)
    }
    // (Read once the quota is lifted: listing a namespace of a pool over its quota blocks.)
    expect(await nodeImages()).toEqual(before)
    expect(await loadInventory(s.ctx.root)).toEqual(inventory)
    expect(await leftovers(s.dir)).toEqual([])
  }, 300_000)
})
