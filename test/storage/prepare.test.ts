/**
 * `pxeroot storage prepare` for real, under temporary --roots: a sparse image file and a loop
 * device made into pxeroot's btrfs storage, the refusals that change nothing (a filesystem on
 * the target, data in paths.nodes, a path that is not a block device), idempotence, a re-run
 * after the mounts are gone (a reboot without systemd), and a clone on the prepared storage
 * being a snapshot.
 */
import {spawnSync} from 'node:child_process'
import {promises as fs} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'

import StoragePrepare from '../../src/commands/storage/prepare.js'
import {mountUnitName} from '../../src/render/systemd/mount-unit.js'
import {cloneNodes} from '../../src/services/nodes-clone.js'
import {type StoragePrepareResult} from '../../src/services/storage-prepare.js'
import {isSubvolume} from '../../src/system/mounts.js'
import {context, makeRevision, makeSyntheticTree, sh, SITE, writeSite} from '../clone/helpers.js'
import {runCommand} from '../support/run-command.js'
import {snapshotTree} from '../support/tmp-root.js'

const isRoot = process.getuid?.() === 0
const FILE = '/var/lib/pxeroot/storage.img'

let roots: string[] = []
let loops: string[] = []

async function newRoot(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pxeroot-storage-'))
  roots.push(dir)
  await writeSite(dir, SITE)
  return dir
}

function mountsUnder(dir: string): string[] {
  return sh('findmnt', ['-rn', '-o', 'TARGET']).split('\n').filter((m) => m === dir || m.startsWith(`${dir}/`))
}

function unmountAll(dir: string): void {
  for (const m of mountsUnder(dir).reverse()) spawnSync('umount', ['-l', m])
}

afterEach(async () => {
  for (const dir of roots) {
    unmountAll(dir)
    await fs.rm(dir, {recursive: true, force: true})
  }
  for (const dev of loops) spawnSync('losetup', ['-d', dev])
  roots = []
  loops = []
})

async function prepare(root: string, ...argv: string[]) {
  const r = await runCommand(StoragePrepare, [...argv, '--root', root])
  return {...r, result: r.result as StoragePrepareResult | undefined}
}

describe.skipIf(!isRoot)('pxeroot storage prepare', () => {
  it('--dry-run shows the steps and the unit files and changes nothing', async () => {
    const root = await newRoot()
    const before = await snapshotTree(root)
    const r = await prepare(root, '--file', FILE, '--size', '2G', '--dry-run')
    expect(r.code).toBe(0)
    expect(r.result!.steps).toEqual([
      `create ${FILE}, a sparse file of 2 GiB`,
      `mkfs.btrfs -L pxeroot ${FILE}`,
      `mount ${FILE} at /srv/pxeroot-storage (loop)`,
      'btrfs subvolume create /srv/pxeroot-storage/images (unless there)',
      'btrfs subvolume create /srv/pxeroot-storage/nodes (unless there)',
      'mount --bind /srv/pxeroot-storage/images /srv/pxeroot/images',
      'mount --bind /srv/pxeroot-storage/nodes /srv/nodes',
    ])
    expect(r.result!.diff).toContain(`+What=${FILE}\n+Where=/srv/pxeroot-storage\n+Type=btrfs\n+Options=loop\n`)
    expect(r.result!.diff).toContain('+What=/srv/pxeroot-storage/nodes\n+Where=/srv/nodes\n+Type=none\n+Options=bind\n')
    expect(await snapshotTree(root)).toEqual(before)
    expect(mountsUnder(root)).toEqual([])
  })

  it('puts paths.images and paths.nodes on a btrfs in a sparse file; a second run is "already prepared"; clones are snapshots', async () => {
    const root = await newRoot()
    const r = await prepare(root, '--file', FILE, '--size', '2G')
    expect(r.error?.message).toBeUndefined()
    expect(r.result!.alreadyPrepared).toBe(false)
    const img = await fs.stat(path.join(root, FILE))
    expect(img.size).toBe(2 * 2 ** 30)
    expect(img.blocks * 512).toBeLessThan(2 ** 30)
    expect(mountsUnder(root)).toEqual([path.join(root, 'srv/pxeroot-storage'), path.join(root, 'srv/pxeroot/images'), path.join(root, 'srv/nodes')])
    expect(await isSubvolume(path.join(root, 'srv/nodes'))).toBe(true)
    expect(await isSubvolume(path.join(root, 'srv/pxeroot/images'))).toBe(true)
    const units = path.join(root, 'etc/systemd/system')
    expect((await fs.readdir(units)).sort()).toEqual(['local-fs.target.d', 'srv-nodes.mount', 'srv-pxeroot-images.mount', 'srv-pxeroot\\x2dstorage.mount'])
    expect(await fs.readFile(path.join(units, 'local-fs.target.d/pxeroot-storage.conf'), 'utf8')).toContain('Wants=srv-pxeroot\\x2dstorage.mount srv-pxeroot-images.mount srv-nodes.mount\n')
    // systemd's own checker accepts each unit once its paths are real (names must match Where=).
    for (const name of ['srv-nodes.mount', 'srv-pxeroot\\x2dstorage.mount']) await verifyUnit(root, path.join(units, name))
    const state = JSON.parse(await fs.readFile(path.join(root, 'var/lib/pxeroot/storage.json'), 'utf8')) as {uuid: string, units: string[]}
    expect(sh('blkid', ['-s', 'UUID', '-o', 'value', path.join(root, FILE)]).trim()).toBe(state.uuid)
    expect(state.units).toHaveLength(4)

    const again = await prepare(root, '--file', FILE)
    expect(again.code).toBe(0)
    expect(again.result).toMatchObject({alreadyPrepared: true, steps: [], units: []})
    expect(mountsUnder(root)).toHaveLength(3)

    // The point of it all: a revision on this storage is a subvolume and clones are snapshots.
    await makeRevision(root, 'lab', 1, makeSyntheticTree, true)
    const clone = await cloneNodes(context(root), {count: 2})
    expect(clone.method).toBe('btrfs')
    expect(await isSubvolume(path.join(root, 'srv/nodes/node02'))).toBe(true)

    // After a reboot without systemd (nothing mounted), a run mounts it all again and keeps the data.
    unmountAll(root)
    const repaired = await prepare(root, '--file', FILE)
    expect(repaired.code).toBe(0)
    expect(repaired.result!.steps).toEqual([`mount ${FILE} at /srv/pxeroot-storage (loop)`, 'btrfs subvolume create /srv/pxeroot-storage/images (unless there)', 'btrfs subvolume create /srv/pxeroot-storage/nodes (unless there)', 'mount --bind /srv/pxeroot-storage/images /srv/pxeroot/images', 'mount --bind /srv/pxeroot-storage/nodes /srv/nodes'])
    expect(await fs.readFile(path.join(root, 'srv/nodes/node02/etc/hostname'), 'utf8')).toBe('node02\n')
  }, 120_000)

  it('refuses a file that holds a filesystem, changing nothing, and formats it with --force', async () => {
    const root = await newRoot()
    const file = path.join(root, FILE)
    await fs.mkdir(path.dirname(file), {recursive: true})
    sh('truncate', ['-s', '1G', file])
    sh('mkfs.ext4', ['-q', '-F', file])
    // The image is too big to snapshot: the checksum of its head (ext4's superblock and group
    // descriptors, what mkfs.btrfs would overwrite first) and its size and time stand in for it.
    const state = async () => ({etc: await snapshotTree(path.join(root, 'etc')), img: sh('sh', ['-c', 'head -c 16M "$1" | sha256sum; stat -c %s.%Y "$1"', 'x', file]), dirs: sh('find', [root])})
    const before = await state()
    const r = await prepare(root, '--file', FILE)
    expect(r.code).toBe(2)
    expect(r.error?.message).toBe(`--file ${FILE} already holds ext4; nothing was changed (pick an empty disk or file, or pass --force to destroy what is on it)`)
    expect(await state()).toEqual(before)
    expect(mountsUnder(root)).toEqual([])

    const forced = await prepare(root, '--file', FILE, '--force')
    expect(forced.error?.message).toBeUndefined()
    expect(forced.result!.steps[0]).toBe(`mkfs.btrfs -L pxeroot -f ${FILE} (--force: destroys what is on it)`)
    expect(sh('blkid', ['-s', 'TYPE', '-o', 'value', file]).trim()).toBe('btrfs')
  }, 60_000)

  it('refuses when paths.nodes already holds data, before creating anything', async () => {
    const root = await newRoot()
    await fs.mkdir(path.join(root, 'srv/nodes/node01'), {recursive: true})
    const before = await snapshotTree(root)
    const r = await prepare(root, '--file', FILE, '--size', '2G')
    expect(r.code).toBe(2)
    expect(r.error?.message).toMatch(/^paths\.nodes \/srv\/nodes already holds data \(1 entry\); .*nothing was changed \(move its contents away/)
    expect(await snapshotTree(root)).toEqual(before)
    await expect(fs.stat(path.join(root, FILE))).rejects.toThrow(/ENOENT/)
  })

  it('prepares a block device, mounted by UUID at boot; refuses one with a filesystem, and a path that is no block device', async () => {
    const root = await newRoot()
    const backing = path.join(root, 'disk.img')
    sh('truncate', ['-s', '1G', backing])
    const dev = sh('losetup', ['-f', '--show', backing]).trim()
    loops.push(dev)

    const r = await prepare(root, dev)
    expect(r.error?.message).toBeUndefined()
    expect(await fs.readFile(path.join(root, 'etc/systemd/system', mountUnitName('/srv/pxeroot-storage')), 'utf8'))
      .toContain(`What=/dev/disk/by-uuid/${r.result!.uuid}\nWhere=/srv/pxeroot-storage\nType=btrfs\n`)
    expect((await prepare(root, dev)).result!.alreadyPrepared).toBe(true)
    // One storage per server: another target is refused while this one is prepared.
    expect((await prepare(root, '--file', FILE, '--size', '2G')).error?.message).toMatch(/storage is already prepared on device \/dev\/loop/)

    const other = await newRoot()
    const backing2 = path.join(other, 'disk.img')
    sh('truncate', ['-s', '1G', backing2])
    sh('mkfs.xfs', ['-q', backing2])
    const dev2 = sh('losetup', ['-f', '--show', backing2]).trim()
    loops.push(dev2)
    const refused = await prepare(other, dev2)
    expect(refused.code).toBe(2)
    expect(refused.error?.message).toMatch(new RegExp(`^DEVICE ${dev2} already holds xfs; nothing was changed \\(.*--force`))
    expect(mountsUnder(other)).toEqual([])

    const notBlock = await prepare(other, '/dev/null')
    expect(notBlock.code).toBe(2)
    expect(notBlock.error?.message).toMatch(/^DEVICE \/dev\/null: is not a block device \(name a disk/)
  }, 60_000)
})

/** systemd-analyze verify on a copy of a unit whose host paths are rewritten to the --root's real ones. */
async function verifyUnit(root: string, unitFile: string): Promise<void> {
  const text = await fs.readFile(unitFile, 'utf8')
  const where = /^Where=(.*)$/m.exec(text)![1]
  const rewritten = text.replace(/^(What|Where)=(\/.*)$/gm, (_, key: string, p: string) => `${key}=${p.startsWith('/dev/') ? p : path.join(root, p)}`)
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pxeroot-verify-'))
  try {
    const file = path.join(dir, mountUnitName(path.join(root, where)))
    await fs.writeFile(file, rewritten)
    const r = spawnSync('systemd-analyze', ['verify', file], {encoding: 'utf8'})
    expect(r.stderr, path.basename(unitFile)).toBe('')
    expect(r.status).toBe(0)
  } finally {
    await fs.rm(dir, {recursive: true, force: true})
  }
}
