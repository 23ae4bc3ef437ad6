/**
 * Image revisions on an rbd site, against the run's real cluster: a tree becomes an ext4 image
 * (mke2fs -d), imported into the pool's revisions namespace as NAME-N and kept as its protected
 * snapshot N; read back here through qemu-storage-daemon's FUSE export and a loop mount. Every
 * image command keeps its meaning.
 */
import {promises as fs} from 'node:fs'
import path from 'node:path'

import {execa} from 'execa'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import ImageDiff from '../../src/commands/image/diff.js'
import ImageExec from '../../src/commands/image/exec.js'
import ImageExport from '../../src/commands/image/export.js'
import ImageImport from '../../src/commands/image/import.js'
import ImageList from '../../src/commands/image/list.js'
import ImagePrune from '../../src/commands/image/prune.js'
import ImageRm from '../../src/commands/image/rm.js'
import ImageRollback from '../../src/commands/image/rollback.js'
import ImageShow from '../../src/commands/image/show.js'
import ImageUpdate from '../../src/commands/image/update.js'
import NodesClone from '../../src/commands/nodes/clone.js'
import NodesRm from '../../src/commands/nodes/rm.js'
import {currentRevision} from '../../src/images/layout.js'
import {listRevisions} from '../../src/images/store.js'
import {withStorage} from '../../src/storage/registry.js'
import {makeSyntheticRevision, treeFacts} from '../archive/synthetic.js'
import {cephSkipReason, sharedCluster, type TestCluster} from '../support/ceph.js'
import {importGolden, leftovers, rbdSite, type RbdSite} from '../support/rbd-site.js'
import {runCommand} from '../support/run-command.js'

const skip = await cephSkipReason()

describe.skipIf(skip)(`revisions on rbd${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let cluster: TestCluster
  let s: RbdSite
  const revisionImages = async (site = s) => (await cluster.rbd(['ls', '-l', '--format', 'json', `${site.pool}/revisions`]).then((t) => JSON.parse(t) as {image: string, snapshot?: string, protected?: string}[]))
    .map((i) => (i.snapshot ? `${i.image}@${i.snapshot}${i.protected === 'true' ? ' protected' : ''}` : i.image))

  beforeAll(async () => {
    cluster = await sharedCluster()
    s = await rbdSite(cluster)
  }, 600_000)
  afterAll(async () => {
    await s?.cleanup()
  })

  it('keeps owners, modes, device nodes, hard links, xattrs, ACLs and file capabilities through mke2fs -d and the pool; rollback', async () => {
    // A site of its own: the synthetic image has no apt for the update --all below.
    const site = await rbdSite(cluster)
    try {
      await syntheticRoundTrip(site)
    } finally {
      await site.cleanup()
    }
  }, 300_000)

  async function syntheticRoundTrip(s: RbdSite): Promise<void> {
    const src = path.join(s.dir, 'synthetic')
    const {acl} = await makeSyntheticRevision(path.join(src, '3'), 'syn', 3)
    const archive = path.join(s.dir, 'syn.tar.zst')
    // The tree goes in as a user would bring one: an archive of another server's revision.
    await execa('tar', ['--create', '--zstd', '--file', archive, '--xattrs', '--xattrs-include=*', '--acls', '--numeric-owner', '--directory', path.join(src, '3'), 'manifest.json', 'rootfs'])
    const r = await runCommand(ImageImport, [archive, '--name', 'syn', ...s.root])
    expect(r.error?.message).toBeUndefined()
    expect(await revisionImages(s)).toEqual(['syn-1', 'syn-1@1 protected'])
    // Nothing of the tree stays on this server: the revision directory holds its manifest.
    expect(await fs.readdir(path.join(s.dir, 'srv/pxeroot/images/syn/1'))).toEqual(['manifest.json'])
    expect(JSON.parse(await fs.readFile(path.join(s.dir, 'srv/pxeroot/images/syn/1/manifest.json'), 'utf8'))).toMatchObject({storage: 'rbd', origin: 'import'})

    const original = path.join(src, '3/rootfs')
    await withStorage(s.ctx, await s.site(), (storage) => storage.withRevisionTree({image: 'syn', revision: 1}, async (tree) => {
      // mke2fs adds lost+found; everything else is the tree as it was.
      const rsync = await execa('rsync', ['-rlpgoDHAXcin', '--numeric-ids', '--delete', '--exclude=/lost+found', `${original}/`, `${tree}/`])
      expect(rsync.stdout.trim()).toBe('')
      const facts = await treeFacts(tree)
      facts.delete('lost+found')
      expect(facts).toEqual(await treeFacts(original))
      expect((await execa('getcap', [path.join(tree, 'usr/bin/ping')])).stdout).toMatch(/cap_net_raw[=+]ep/)
      expect((await execa('getfattr', ['--only-values', '-n', 'user.pxeroot.note', path.join(tree, 'etc/passwd')])).stdout).toBe('kept')
      if (acl) expect((await execa('getfacl', ['-cpn', path.join(tree, 'var/lib/x')])).stdout).toContain('default:group:54321:r-x')
      expect((await fs.lstat(path.join(tree, 'dev/null'))).isCharacterDevice()).toBe(true)
      expect((await fs.lstat(path.join(tree, 'dev/loop7'))).isBlockDevice()).toBe(true)
      expect((await fs.lstat(path.join(tree, 'dev/initctl'))).isFIFO()).toBe(true)
      const [a, b] = await Promise.all(['usr/bin/perl', 'usr/bin/perl5.36'].map((f) => fs.lstat(path.join(tree, f))))
      expect(a.ino).toBe(b.ino)
      expect(a.nlink).toBe(2)
    }))
    expect(await leftovers(s.dir)).toEqual([])

    // A second import is revision 2; rollback moves current back to 1.
    expect((await runCommand(ImageImport, [archive, '--name', 'syn', ...s.root])).error?.message).toBeUndefined()
    expect((await currentRevision(s.ctx.root, await s.site(), 'syn'))?.revision).toBe(2)
    expect((await runCommand(ImageRollback, ['syn', ...s.root])).error?.message).toBeUndefined()
    expect((await currentRevision(s.ctx.root, await s.site(), 'syn'))?.revision).toBe(1)
    expect(await revisionImages(s)).toEqual(['syn-1', 'syn-1@1 protected', 'syn-2', 'syn-2@2 protected'])
  }

  it('imports the golden revision; list, show and diff read it as on any site', async () => {
    await importGolden(s, 'lab')
    expect(await revisionImages()).toContain('lab-1@1 protected')
    const list = await runCommand(ImageList, [...s.root, '--json'])
    expect(list.result).toMatchObject({images: [{name: 'lab', current: 1}]})
    const show = await runCommand(ImageShow, ['lab@1', ...s.root, '--json'])
    // Secure Boot readiness reads the kernel and modules inside the tree: through the pool.
    expect(show.result).toMatchObject({image: 'lab', revision: 1, storage: 'rbd', current: true})
    expect((show.result as {secureBoot: {modules: {status: string}}}).secureBoot.modules.status).not.toBe('unknown')
    expect(await leftovers(s.dir)).toEqual([])
  }, 600_000)

  it('exec makes a new revision in the pool from a working copy; an exec that changes nothing and update of an up-to-date image make none', async () => {
    const r = await runCommand(ImageExec, ['lab', ...s.root, '--', 'sh', '-c', 'echo from-rbd > /etc/pxeroot-test'])
    expect(r.error?.message).toBeUndefined()
    expect(await listRevisions(s.ctx.root, await s.site(), 'lab')).toEqual([1, 2])
    expect(await revisionImages()).toEqual(expect.arrayContaining(['lab-2', 'lab-2@2 protected']))
    await withStorage(s.ctx, await s.site(), (storage) => storage.withRevisionTree({image: 'lab', revision: 2}, async (tree) => {
      expect(await fs.readFile(path.join(tree, 'etc/pxeroot-test'), 'utf8')).toBe('from-rbd\n')
    }))
    const diff = await runCommand(ImageDiff, ['lab@1', 'lab@2', ...s.root, '--json'])
    expect(diff.result).toMatchObject({identical: true})

    expect((await runCommand(ImageExec, ['lab', ...s.root, '--', 'true'])).code).toBe(0)
    // The mirror may have moved since the golden build: the first update may publish; the second must not.
    expect((await runCommand(ImageUpdate, ['--all', ...s.root])).code).toBe(0)
    const before = await listRevisions(s.ctx.root, await s.site(), 'lab')
    const again = await runCommand(ImageUpdate, ['--all', ...s.root, '--json'])
    expect(again.result).toMatchObject({images: expect.arrayContaining([{image: 'lab', status: 'current', revision: before.at(-1)}])})
    expect(await listRevisions(s.ctx.root, await s.site(), 'lab')).toEqual(before)
    expect((await fs.readdir(path.join(s.dir, 'srv/pxeroot/images/lab'))).filter((f) => f.startsWith('.staging-'))).toEqual([])
    expect(await leftovers(s.dir)).toEqual([])
  }, 1_200_000)

  it('export writes the tree from the pool; it imports back identical', async () => {
    const archive = path.join(s.dir, 'lab-2.tar.zst')
    expect((await runCommand(ImageExport, ['lab@2', archive, ...s.root])).error?.message).toBeUndefined()
    const names = (await execa('tar', ['--zstd', '-tf', archive])).stdout.split('\n')
    expect(names[0]).toBe('manifest.json')
    expect(names).toContain('rootfs/etc/pxeroot-test')
    expect((await execa('tar', ['--zstd', '-xOf', archive, 'rootfs/etc/pxeroot-test'])).stdout).toBe('from-rbd')
    expect(await leftovers(s.dir)).toEqual([])
  }, 300_000)

  it('prune and rm keep a revision that still has clones, naming them; once they are gone it goes', async () => {
    // node01 is cloned from lab@1, then the site moves on.
    expect((await runCommand(NodesClone, ['1', '--image', 'lab@1', ...s.root])).error?.message).toBeUndefined()
    const rm = await runCommand(ImageRm, ['lab@1', ...s.root])
    expect(rm.code).toBe(3)
    expect(rm.error?.message).toMatch(/lab@1 is used by node01/)
    // The inventory forgets node01 (as a hand edit or --keep-root would), its clone stays in the pool.
    expect((await runCommand(NodesRm, ['node01', '--keep-root', ...s.root])).error?.message).toBeUndefined()
    const held = await runCommand(ImagePrune, ['lab', '--keep', '1', ...s.root, '--json'])
    expect(held.result).toMatchObject({held: {'lab@1': ['node01']}})
    expect(await revisionImages()).toContain('lab-1@1 protected')
    const refused = await runCommand(ImageRm, ['lab@1', ...s.root])
    expect(refused.code).toBe(3)
    expect(refused.error?.message).toMatch(/^lab@1 still has clones: node01; refusing to remove it/)
    await cluster.rbd(['rm', `${s.pool}/node01/root`])
    const removed = await runCommand(ImageRm, ['lab@1', ...s.root])
    expect(removed.error?.message).toBeUndefined()
    expect(await revisionImages()).not.toContain('lab-1')
    expect(await fs.stat(path.join(s.dir, 'srv/pxeroot/images/lab/1')).catch(() => undefined)).toBeUndefined()
  }, 600_000)
})
