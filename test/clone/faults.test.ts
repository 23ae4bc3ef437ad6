import {spawn} from 'node:child_process'
import {promises as fs} from 'node:fs'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {JOURNAL_NAME} from '../../src/clone/journal.js'
import {cloneNodes} from '../../src/services/nodes-clone.js'
import {removeNodeRoots} from '../../src/clone/node-info.js'
import {removeRoot} from '../../src/storage/local/remove.js'
import {loadSite} from '../../src/config/site-file.js'
import {PartialFailureError, UserError} from '../../src/errors.js'
import {loadInventory} from '../../src/inventory/inventory.js'
import {context, loopFs, makeRevision, makeSyntheticTree, sh, SITE, treeDifferences, writeSite, type LoopFs} from './helpers.js'

const DRIVER = path.resolve(import.meta.dirname, 'clone-driver.ts')

/** The synthetic tree plus `mib` of incompressible data, so copies cost real blocks and time. */
function withData(mib: number) {
  return async (dir: string) => {
    await makeSyntheticTree(dir)
    sh('dd', ['if=/dev/urandom', `of=${path.join(dir, 'usr/lib/blob')}`, 'bs=1M', `count=${mib}`, 'status=none'])
  }
}

async function entries(dir: string): Promise<string[]> {
  return (await fs.readdir(dir).catch(() => [] as string[])).sort()
}

describe('faults while cloning (loop-mounted ext4, full copy)', () => {
  let small: LoopFs
  let big: LoopFs
  beforeAll(async () => {
    [small, big] = await Promise.all([loopFs('ext4', 160), loopFs('ext4', 768)])
  })
  afterAll(async () => {
    await small?.cleanup()
    await big?.cleanup()
  })

  it('refuses up front when the disk is too small for the clones, creating nothing', async () => {
    const rootDir = path.join(small.mnt, 'a')
    await writeSite(rootDir)
    await makeRevision(rootDir, 'lab', 1, withData(30), false)
    const error = await cloneNodes(context(rootDir), {count: 5}).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(UserError)
    expect((error as Error).message).toMatch(/not enough disk: 5 copy clone\(s\) need about .* nothing was created/)
    expect(await entries(path.join(rootDir, 'srv/nodes'))).toEqual([])
    await expect(fs.stat(path.join(rootDir, 'etc/pxeroot/nodes.yaml'))).rejects.toThrow()
  })

  it('disk full during clones: only complete roots are registered and exported, nothing half-made is left', async () => {
    const rootDir = path.join(small.mnt, 'a')
    const ctx = context(rootDir)
    const error = await cloneNodes(ctx, {count: 5, spaceCheck: false}).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(PartialFailureError)
    expect((error as Error).message).toMatch(/No space left on device|ENOSPC/)
    const names = await entries(path.join(rootDir, 'srv/nodes'))
    expect(names.filter((n) => n.startsWith('.'))).toEqual([])
    const inventory = await loadInventory(ctx.root)
    expect(inventory.nodes.map((n) => n.name).sort()).toEqual(names)
    expect(names.length).toBeLessThan(5)
    const exportsText = await fs.readFile(path.join(rootDir, 'etc/exports.d/pxeroot.exports'), 'utf8').catch(() => '')
    for (let i = 1; i <= 5; i++) {
      const name = `node0${i}`
      expect(exportsText.includes(`/srv/nodes/${name} `)).toBe(names.includes(name))
      if (names.includes(name)) expect(treeDifferences(path.join(rootDir, 'srv/pxeroot/images/lab/1/rootfs'), path.join(rootDir, 'srv/nodes', name))).toEqual([])
    }
  })

  it('a kill -9 mid-clone leaves no half root under a node name and nothing registered; the next run cleans up and finishes', async () => {
    const rootDir = path.join(big.mnt, 'k')
    await writeSite(rootDir)
    const source = await makeRevision(rootDir, 'lab', 1, withData(120), false)
    const nodesDir = path.join(rootDir, 'srv/nodes')
    const child = spawn(process.execPath, ['--import', 'tsx', DRIVER, rootDir, '3'],
      {cwd: path.resolve(import.meta.dirname, '../..'), detached: true, stdio: 'ignore'})
    const deadline = Date.now() + 60_000
    while (!(await entries(nodesDir)).some((n) => n.includes('.pxeroot-clone-')) && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
    await new Promise((r) => setTimeout(r, 100))
    process.kill(-child.pid!, 'SIGKILL')
    await new Promise((r) => child.once('exit', r))

    const left = await entries(nodesDir)
    expect(left.some((n) => n.includes('.pxeroot-clone-'))).toBe(true)
    const inventory = await loadInventory(context(rootDir).root)
    const finals = left.filter((n) => !n.startsWith('.'))
    // Whatever got its final name was complete, and registered or named by a journal the next run
    // finishes (the kill fell between a rename and the inventory save); nothing else was registered.
    const journaled = (await Promise.all(left.filter((n) => JOURNAL_NAME.test(n)).map(async (n) => {
      const j = JSON.parse(await fs.readFile(path.join(nodesDir, n), 'utf8')) as {node?: string, switches?: {node: string}[]}
      return j.switches?.map((x) => x.node) ?? [j.node!]
    }))).flat()
    const registered = inventory.nodes.map((n) => n.name)
    expect(finals.filter((n) => !registered.includes(n) && !journaled.includes(n))).toEqual([])
    expect(registered.filter((n) => !finals.includes(n))).toEqual([])
    for (const name of finals) expect(treeDifferences(source, path.join(nodesDir, name))).toEqual([])

    const ctx = context(rootDir)
    const result = await cloneNodes(ctx, {count: 3})
    expect(result.cleaned.length + result.recovered.length).toBeGreaterThan(0)
    expect(await entries(nodesDir)).toEqual(['node01', 'node02', 'node03'])
    for (const name of ['node01', 'node02', 'node03']) expect(treeDifferences(source, path.join(nodesDir, name))).toEqual([])
    expect((await loadInventory(ctx.root)).nodes.map((n) => n.image)).toEqual(['lab@1', 'lab@1', 'lab@1'])
  })

  it('a kill between writing a journal and renaming it into place leaves a temp file the next run deletes; a stranger\'s file stays', async () => {
    const rootDir = path.join(big.mnt, 'j')
    await writeSite(rootDir)
    const source = await makeRevision(rootDir, 'lab', 1, makeSyntheticTree, false)
    const nodesDir = path.join(rootDir, 'srv/nodes')
    await fs.mkdir(nodesDir, {recursive: true})
    // What files.write leaves when killed after writing the journal's temp file (see tempNameFor).
    await fs.writeFile(path.join(nodesDir, '..node02.pxeroot-journal.json.pxeroot-a5052a8e'), '{"node":"node02"')
    await fs.writeFile(path.join(nodesDir, '..node02.notes'), 'mine')
    const result = await cloneNodes(context(rootDir), {count: 2})
    expect(result.cleaned).toEqual(['..node02.pxeroot-journal.json.pxeroot-a5052a8e'])
    expect(await entries(nodesDir)).toEqual(['..node02.notes', 'node01', 'node02'])
    expect(treeDifferences(source, path.join(nodesDir, 'node02'))).toEqual([])
  })

  it('errors before creating anything when the node range is too small or an unregistered root is in the way', async () => {
    const rootDir = path.join(big.mnt, 'r')
    await writeSite(rootDir, SITE.replace('192.168.0.200-192.168.0.210', '192.168.0.200-192.168.0.201'))
    await makeRevision(rootDir, 'lab', 1, makeSyntheticTree, false)
    await expect(cloneNodes(context(rootDir), {count: 3})).rejects.toThrow(/nodes\.range 192\.168\.0\.200-192\.168\.0\.201 has no free address for 1 .*nothing was created/)
    expect(await entries(path.join(rootDir, 'srv/nodes'))).toEqual([])
    await fs.mkdir(path.join(rootDir, 'srv/nodes/node01'), {recursive: true})
    await expect(cloneNodes(context(rootDir), {count: 2})).rejects.toThrow(/srv\/nodes\/node01 exists but is not in the inventory/)
    expect(await entries(path.join(rootDir, 'srv/nodes'))).toEqual(['node01'])
  })

  it('removing roots refuses nodes not in the inventory and paths outside the nodes directory', async () => {
    const rootDir = path.join(big.mnt, 'k')
    const ctx = context(rootDir)
    const site = await loadSite(ctx.root)
    const inventory = await loadInventory(ctx.root)
    await expect(removeNodeRoots(ctx, site, inventory, 'node09')).rejects.toThrow(/node09 is not in the inventory/)
    const outside = path.join(big.mnt, 'precious')
    await fs.mkdir(outside)
    await fs.writeFile(path.join(outside, 'data'), 'keep')
    await expect(removeRoot(ctx, path.join(rootDir, 'srv/nodes'), outside)).rejects.toThrow(/not inside the nodes directory/)
    await expect(removeRoot(ctx, path.join(rootDir, 'srv/nodes'), path.join(rootDir, 'srv/nodes/../../precious'))).rejects.toThrow(/not inside/)
    // A node whose root was replaced by a symlink to elsewhere: refused, the target survives.
    await fs.rename(path.join(rootDir, 'srv/nodes/node03'), path.join(rootDir, 'srv/nodes/.node03.pxeroot-trash-00000000'))
    await fs.symlink(outside, path.join(rootDir, 'srv/nodes/node03'))
    await expect(removeNodeRoots(ctx, site, inventory, 'node03')).rejects.toThrow(/is a symlink/)
    expect(await fs.readFile(path.join(outside, 'data'), 'utf8')).toBe('keep')
    await fs.rm(path.join(rootDir, 'srv/nodes/node03'))

    const removed = await removeNodeRoots(ctx, site, inventory, 'node02')
    expect(removed).toEqual(['/srv/nodes/node02'])
    expect(await entries(path.join(rootDir, 'srv/nodes'))).toEqual(['.node03.pxeroot-trash-00000000', 'node01'])
  })
})
