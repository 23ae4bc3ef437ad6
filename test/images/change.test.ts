import {execa} from 'execa'
import {promises as fs} from 'node:fs'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import ImageDiff from '../../src/commands/image/diff.js'
import ImageExec from '../../src/commands/image/exec.js'
import ImagePrune from '../../src/commands/image/prune.js'
import ImageRm from '../../src/commands/image/rm.js'
import ImageRollback from '../../src/commands/image/rollback.js'
import ImageUpdate from '../../src/commands/image/update.js'
import {type RevisionDiff} from '../../src/images/diff.js'
import {bootFiles, currentRevision, imageDir, revisionManifest, revisionRootfs} from '../../src/images/layout.js'
import {rbdBootReadiness} from '../../src/images/initrd.js'
import {RBD_BOOT_SCRIPT, RBD_HOOK} from '../../src/images/rbdroot.js'
import {initrdMembers} from '../../src/system/initrd.js'
import {type Manifest} from '../../src/images/manifest.js'
import {listRevisions} from '../../src/images/store.js'
import {STATE} from '../../src/system/paths.js'
import {type Golden, goldenCopy, removeGoldenRoot, runCommand} from '../support/golden.js'

/** Changing an image: update, exec, rollback, prune, rm, on a private copy of the golden revision. */
describe('image update / exec / rollback / prune / rm', () => {
  let g: Golden
  const revisions = () => listRevisions(g.root, g.site, 'lab')
  const manifest = async (n: number) => JSON.parse(await fs.readFile(g.root.resolve(revisionManifest(g.site, {image: 'lab', revision: n})), 'utf8')) as Manifest
  const leftovers = async () => (await fs.readdir(g.root.resolve(imageDir(g.site, 'lab')))).filter((f) => f.startsWith('.staging-'))
  const root = () => ['--root', g.rootPrefix]

  beforeAll(async () => {
    g = await goldenCopy('lab')
  }, 600_000)
  afterAll(async () => {
    if (g) await removeGoldenRoot(g)
  })

  it('update with neither a name nor --all is a usage error', async () => {
    expect((await runCommand(ImageUpdate, root())).code).toBe(2)
  })

  it('update of an up-to-date image exits 0 and publishes nothing', async () => {
    // The mirror may have moved since the cached build; the second update must then find nothing.
    const first = await runCommand(ImageUpdate, ['lab', ...root(), '--json'])
    expect(first.code).toBe(0)
    const before = await revisions()
    const second = await runCommand(ImageUpdate, ['lab', ...root(), '--json'])
    expect(second.code).toBe(0)
    expect(second.result).toMatchObject({images: [{image: 'lab', status: 'current'}]})
    expect(await revisions()).toEqual(before)
    expect(await leftovers()).toEqual([])
  }, 600_000)

  it('update of an image built before the RBD boot adds it: a new revision whose initrd boots with boot=rbd', async () => {
    const before = await revisions()
    const current = before.at(-1)!
    const rootfs = g.root.resolve(revisionRootfs(g.site, {image: 'lab', revision: current}))
    for (const f of [RBD_BOOT_SCRIPT.image, RBD_HOOK.image]) await fs.rm(path.join(rootfs, f))
    const r = await runCommand(ImageUpdate, ['lab', ...root(), '--json'])
    expect(r.code).toBe(0)
    expect(r.result).toMatchObject({images: [{image: 'lab', status: 'updated', from: current, revision: current + 1}]})
    const initrd = g.root.resolve(path.posix.join(g.site.paths.tftp, bootFiles({image: 'lab', revision: current + 1}).initrd))
    expect(rbdBootReadiness(await initrdMembers(initrd))).toEqual({script: true, missingModules: []})
    // And once it has it, an update is a no-op again.
    expect((await runCommand(ImageUpdate, ['lab', ...root(), '--json'])).result).toMatchObject({images: [{image: 'lab', status: 'current', revision: current + 1}]})
  }, 600_000)

  it('exec that installs a package publishes exactly one new revision listing it; the old one is untouched', async () => {
    const before = await revisions()
    const current = before.at(-1)!
    const r = await runCommand(ImageExec, ['lab', ...root(), '--', 'apt-get', 'install', '-y', '--no-install-recommends', 'hello'])
    expect(r.code).toBe(0)
    expect(await revisions()).toEqual([...before, current + 1])
    expect((await currentRevision(g.root, g.site, 'lab'))?.revision).toBe(current + 1)
    const m = await manifest(current + 1)
    expect(m).toMatchObject({origin: 'exec', parent: current, command: ['apt-get', 'install', '-y', '--no-install-recommends', 'hello']})
    expect(m.packages.map((p) => p.name)).toContain('hello')
    expect((await manifest(current)).packages.map((p) => p.name)).not.toContain('hello')
    await expect(fs.stat(path.join(g.root.resolve(revisionRootfs(g.site, {image: 'lab', revision: current})), 'usr/bin/hello'))).rejects.toThrow()
    const newRoot = g.root.resolve(revisionRootfs(g.site, {image: 'lab', revision: current + 1}))
    expect((await fs.stat(path.join(newRoot, 'etc/machine-id'))).size).toBe(0)
    await expect(fs.lstat(path.join(newRoot, 'usr/sbin/policy-rc.d'))).rejects.toThrow(/ENOENT/)
    expect(await fs.readFile(path.join(newRoot, 'etc/resolv.conf'), 'utf8')).toMatch(/^# pxeroot:/)
    expect(await leftovers()).toEqual([])
    const diff = await runCommand(ImageDiff, [`lab@${current}`, `lab@${current + 1}`, ...root(), '--json'])
    expect(diff.code).toBe(0)
    expect((diff.result as RevisionDiff).added.map((p) => p.name)).toContain('hello')
    expect((diff.result as RevisionDiff).removed).toEqual([])
  }, 600_000)

  it('exec that changes nothing, or fails, publishes nothing and leaves no working copy', async () => {
    const before = await revisions()
    expect((await runCommand(ImageExec, ['lab', ...root(), '--', 'true'])).code).toBe(0)
    const failed = await runCommand(ImageExec, ['lab', ...root(), '--', 'sh', '-c', 'echo changed > /etc/motd; exit 3'])
    expect(failed.code).toBe(1)
    expect(await revisions()).toEqual(before)
    expect(await leftovers()).toEqual([])
    const {stdout} = await execa('findmnt', ['-rn', '-o', 'TARGET'])
    expect(stdout.split('\n').filter((m) => m.startsWith(g.rootPrefix))).toEqual([])
  }, 600_000)

  it('exec that edits a file publishes a revision even without package changes; the command keeps its own "--"', async () => {
    const before = await revisions()
    const command = ['sh', '-c', 'echo "$1" > /etc/motd', '--', 'welcome to the lab']
    expect((await runCommand(ImageExec, ['lab', ...root(), '--', ...command])).code).toBe(0)
    const now = await revisions()
    expect(now).toHaveLength(before.length + 1)
    expect(await fs.readFile(path.join(g.root.resolve(revisionRootfs(g.site, {image: 'lab', revision: now.at(-1)!})), 'etc/motd'), 'utf8')).toBe('welcome to the lab\n')
    expect((await manifest(now.at(-1)!)).command).toEqual(command)
  }, 600_000)

  it('rollback moves current back; rm refuses the current and a used revision; prune keeps both', async () => {
    const all = await revisions()
    expect(all.length).toBeGreaterThanOrEqual(3)
    const newest = all.at(-1)!
    expect((await runCommand(ImageRollback, ['lab', ...root()])).code).toBe(0)
    const previous = all.at(-2)!
    expect((await currentRevision(g.root, g.site, 'lab'))?.revision).toBe(previous)
    expect((await runCommand(ImageRm, [`lab@${previous}`, ...root()])).code).toBe(3)
    // node01 was cloned from revision 1: it stays, with its boot files.
    await fs.writeFile(g.root.resolve(STATE.inventoryFile), 'nodes:\n  - name: node01\n    ip: 10.77.0.101\n    image: lab@1\n')
    expect((await runCommand(ImageRm, ['lab@1', ...root()])).code).toBe(3)
    const pruned = await runCommand(ImagePrune, ['lab', '--keep', '1', ...root(), '--json'])
    expect(pruned.code).toBe(0)
    expect(await revisions()).toEqual([1, previous, newest])
    const tftp = g.root.resolve(path.posix.join(g.site.paths.tftp, 'pxeroot', 'lab'))
    expect((await fs.readdir(tftp)).sort()).toEqual(['1', String(previous), String(newest)].sort())
    expect((await runCommand(ImageRm, [`lab@${newest}`, ...root()])).code).toBe(0)
    expect(await revisions()).toEqual([1, previous])
    expect(await fs.readdir(tftp)).not.toContain(String(newest))
    expect((await runCommand(ImageRm, ['lab', ...root()])).code).toBe(2)
  }, 600_000)

  it('update --all reports each image and exits 4 (partial) when one of them fails', async () => {
    const broken = g.root.resolve(imageDir(g.site, 'broken'))
    await fs.mkdir(path.join(broken, '1', 'rootfs'), {recursive: true})
    await fs.symlink('1', path.join(broken, 'current'))
    const before = await revisions()
    const r = await runCommand(ImageUpdate, ['--all', ...root()])
    expect(r.code).toBe(4)
    expect(await revisions()).toEqual(before)
  }, 600_000)
})
