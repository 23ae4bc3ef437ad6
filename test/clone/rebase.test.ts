import {promises as fs} from 'node:fs'
import path from 'node:path'
import YAML from 'yaml'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {cloneNodes} from '../../src/services/nodes-clone.js'
import {nodeRootInfo} from '../../src/clone/node-info.js'
import {pruneNodes} from '../../src/services/nodes-prune.js'
import {rebaseNodes} from '../../src/services/nodes-rebase.js'
import {rollbackNode} from '../../src/services/nodes-rollback.js'
import {loadSite} from '../../src/config/site-file.js'
import {loadInventory} from '../../src/inventory/inventory.js'
import {context, loopFs, makeRevision, makeSyntheticTree, sh, treeDifferences, writeSite, type FsType, type LoopFs} from './helpers.js'

/** Revision 2: revision 1 with a changed, a new and a deleted file (what an image update does). */
async function revisionTwo(dir: string): Promise<void> {
  await makeSyntheticTree(dir)
  await fs.writeFile(path.join(dir, 'etc/os-release'), 'PRETTY_NAME="synthetic 2"\n')
  sh('setfattr', ['-n', 'user.pxeroot', '-v', 'kept', path.join(dir, 'etc/os-release')])
  await fs.writeFile(path.join(dir, 'usr/bin/new-tool'), 'new in revision 2\n', {mode: 0o755})
  await fs.rm(path.join(dir, 'usr/lib/many/f7'))
}

const read = (p: string) => fs.readFile(p, 'utf8')

describe.each(['btrfs', 'xfs', 'ext4'] as FsType[])('rebase and rollback on a loop-mounted %s', (fsType) => {
  let loop: LoopFs
  let rootDir: string
  let rev2: string
  const nodeRoot = (name: string) => path.join(rootDir, 'srv/nodes', name)

  beforeAll(async () => {
    loop = await loopFs(fsType)
    rootDir = path.join(loop.mnt, 'root')
    await writeSite(rootDir)
    await makeRevision(rootDir, 'lab', 1, makeSyntheticTree, fsType === 'btrfs')
    await cloneNodes(context(rootDir), {count: 3})
    rev2 = await makeRevision(rootDir, 'lab', 2, revisionTwo, fsType === 'btrfs')
  })
  afterAll(async () => {
    await loop?.cleanup()
  })

  it('rebase keeps node-local files and identity, takes everything else from the new revision, and switches the boot entry', async () => {
    const n1 = nodeRoot('node01')
    const identity = async () => ({
      machineId: await read(path.join(n1, 'etc/machine-id')),
      key: await read(path.join(n1, 'etc/ssh/ssh_host_ed25519_key.pub')),
      hostname: await read(path.join(n1, 'etc/hostname')),
    })
    const before = await identity()
    await fs.mkdir(path.join(n1, 'home/bob'))
    await fs.writeFile(path.join(n1, 'home/bob/results.csv'), 'node-local data\n')
    await fs.writeFile(path.join(n1, 'root/.bash_history'), 'ls\n')
    await fs.appendFile(path.join(n1, 'var/log/dpkg.log'), 'node01 log line\n')
    await fs.writeFile(path.join(n1, 'usr/bin/hand-installed'), 'drift\n')

    const ctx = context(rootDir)
    const result = await rebaseNodes(ctx, {nodes: ['node01'], image: 'lab@2'})
    expect(result.rebased.map((r) => r.name)).toEqual(['node01'])
    expect(await identity()).toEqual(before)
    expect(await read(path.join(n1, 'home/bob/results.csv'))).toBe('node-local data\n')
    expect(await read(path.join(n1, 'root/.bash_history'))).toBe('ls\n')
    expect(await read(path.join(n1, 'var/log/dpkg.log'))).toContain('node01 log line')
    await expect(fs.stat(path.join(n1, 'usr/bin/hand-installed'))).rejects.toThrow()
    // Everything outside the node-local paths is the new revision, attributes included.
    expect(treeDifferences(rev2, n1, ['/home/', '/root/', '/var/log/', '/var/lib/dbus/', '/etc/hostname', '/etc/hosts', '/etc/resolv.conf', '/etc/machine-id', '/etc/ssh/ssh_host_*', '/etc/ssh/ssh_known_hosts'])
      .filter((l) => !/^\.d\.\.t\.{6,} \.\/$/.test(l))).toEqual([])

    const inv = await loadInventory(ctx.root)
    const node = inv.nodes.find((n) => n.name === 'node01')!
    expect(node.image).toBe('lab@2')
    expect(await read(path.join(rootDir, 'var/lib/tftpboot/pxelinux.cfg/C0A800C8'))).toContain('pxeroot/lab/2/vmlinuz')
    expect(await read(path.join(rootDir, 'var/lib/tftpboot/pxelinux.cfg/C0A800C9'))).toContain('pxeroot/lab/1/vmlinuz')
    const info = await nodeRootInfo(ctx, await loadSite(ctx.root), node, {size: true})
    expect(info.previous).toEqual({image: 'lab@1', exists: true})
    expect(info.behind).toBe(0)
    expect(info.size?.kind).toBe(fsType === 'btrfs' ? 'exclusive' : 'allocated')
    if (fsType === 'btrfs') expect(info.size!.exclusive).toBeLessThan(2 << 20)
  })

  it('rollback restores the previous root and revision; a second rollback goes forward again', async () => {
    const ctx = context(rootDir)
    await rollbackNode(ctx, 'node01')
    expect(await read(path.join(nodeRoot('node01'), 'usr/bin/hand-installed'))).toBe('drift\n')
    expect((await loadInventory(ctx.root)).nodes.find((n) => n.name === 'node01')!.image).toBe('lab@1')
    expect(await read(path.join(rootDir, 'var/lib/tftpboot/pxelinux.cfg/C0A800C8'))).toContain('pxeroot/lab/1/vmlinuz')
    await rollbackNode(ctx, 'node01')
    expect((await loadInventory(ctx.root)).nodes.find((n) => n.name === 'node01')!.image).toBe('lab@2')
    await expect(fs.stat(path.join(nodeRoot('node01'), 'usr/bin/hand-installed'))).rejects.toThrow()
  })

  it('refuses to rebase a root an NFS client has mounted (rmtab) unless --force, changing nothing', async () => {
    const ctx = context(rootDir)
    await fs.mkdir(path.join(rootDir, 'var/lib/nfs'), {recursive: true})
    await fs.writeFile(path.join(rootDir, 'var/lib/nfs/rmtab'), '192.168.0.201:/srv/nodes/node02:0x00000001\n')
    const before = YAML.stringify((await loadInventory(ctx.root)).nodes)
    await expect(rebaseNodes(ctx, {nodes: 'all', image: 'lab'})).rejects.toThrow(/in use: node02 .*rmtab/)
    expect(YAML.stringify((await loadInventory(ctx.root)).nodes)).toBe(before)
    await expect(fs.stat(path.join(rootDir, 'srv/nodes/node02.previous'))).rejects.toThrow()

    const forced = await rebaseNodes(ctx, {nodes: 'all', image: 'lab', force: true})
    expect(forced.rebased.map((r) => r.name).sort()).toEqual(['node02', 'node03'])
    expect(forced.unchanged).toEqual(['node01'])
    expect((await loadInventory(ctx.root)).nodes.map((n) => n.image)).toEqual(['lab@2', 'lab@2', 'lab@2'])
  })

  it('prune deletes the previous roots; rollback then has nothing to go back to', async () => {
    const ctx = context(rootDir)
    const result = await pruneNodes(ctx, 'all')
    expect(result.pruned.sort()).toEqual(['node01', 'node02', 'node03'])
    expect((await fs.readdir(path.join(rootDir, 'srv/nodes'))).sort()).toEqual(['node01', 'node02', 'node03'])
    await expect(rollbackNode(ctx, 'node01')).rejects.toThrow(/no previous root/)
  })
})
