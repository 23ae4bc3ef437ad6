/**
 * A btrfs snapshot clone boots under NFS-Ganesha (issue 9, item 2), end to end: `storage
 * prepare` puts paths.images and paths.nodes on a btrfs in a sparse image file under a temporary
 * --root, the golden revision is brought in as a read-only subvolume (as `image build` makes
 * them there), `nodes clone` snapshots it, apply renders the root's mount unit, and `lab boot`
 * PXE-boots the node in a VM to its login prompt with Ganesha exporting the subvolume (bound onto
 * itself in the lab's mount namespace; Ganesha refuses it otherwise). Needs root, qemu, dhcpd,
 * tftpd-hpa and NFS-Ganesha.
 */
import {execa} from 'execa'
import {promises as fs} from 'node:fs'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import LabBootCommand from '../../src/commands/lab/boot.js'
import NodesClone from '../../src/commands/nodes/clone.js'
import StoragePrepare from '../../src/commands/storage/prepare.js'
import {type LabBootResult} from '../../src/lab/run.js'
import {mountUnitName} from '../../src/render/systemd/mount-unit.js'
import {type CloneNodesResult} from '../../src/services/nodes-clone.js'
import {isSubvolume} from '../../src/system/mounts.js'
import {type Golden, goldenImage, removeGoldenRoot, runCommand} from '../support/golden.js'
import {ACCEL} from '../support/lab-run.js'

const isRoot = process.getuid?.() === 0

async function mountsUnder(dir: string): Promise<string[]> {
  const {stdout} = await execa('findmnt', ['-rn', '-o', 'TARGET'])
  return stdout.split('\n').filter((m) => m.startsWith(`${dir}/`))
}

describe.skipIf(!isRoot)('a btrfs snapshot clone under NFS-Ganesha', () => {
  let golden: Golden
  let root: string[]

  beforeAll(async () => {
    golden = await goldenImage()
    root = ['--root', golden.rootPrefix]
    // goldenImage() links the cached image into the root; storage prepare wants an empty paths.images.
    const link = golden.root.resolve(path.posix.join(golden.site.paths.images, golden.ref.image))
    const cached = await fs.readlink(link)
    await fs.rm(link)
    const prepared = await runCommand(StoragePrepare, ['--file', '/var/lib/pxeroot/storage.img', '--size', '4G', ...root])
    if (prepared.code !== 0) throw prepared.error

    // The golden revision as image build makes it on btrfs: a read-only subvolume.
    const revDir = path.join(golden.root.resolve(golden.site.paths.images), golden.ref.image, String(golden.ref.revision))
    await fs.mkdir(revDir, {recursive: true})
    await execa('btrfs', ['-q', 'subvolume', 'create', path.join(revDir, 'rootfs')])
    await execa('cp', ['-a', '--reflink=never', '--no-target-directory', path.join(cached, String(golden.ref.revision), 'rootfs'), path.join(revDir, 'rootfs')])
    await execa('btrfs', ['property', 'set', '-ts', path.join(revDir, 'rootfs'), 'ro', 'true'])
    await fs.copyFile(path.join(cached, String(golden.ref.revision), 'manifest.json'), path.join(revDir, 'manifest.json'))
    await fs.symlink(String(golden.ref.revision), path.join(path.dirname(revDir), 'current'))
  }, 1_800_000)

  afterAll(async () => {
    if (!golden) return
    for (const m of (await mountsUnder(golden.rootPrefix)).reverse()) await execa('umount', ['-l', m], {reject: false})
    await removeGoldenRoot(golden)
  })

  it('clones node01 by snapshot and boots it under Ganesha to its login prompt', async () => {
    const clone = await runCommand(NodesClone, ['1', ...root])
    expect(clone.error?.message).toBeUndefined()
    expect((clone.result as CloneNodesResult).method).toBe('btrfs')
    const nodeRoot = golden.root.resolve(`${golden.site.paths.nodes}/node01`)
    expect(await isSubvolume(nodeRoot)).toBe(true)
    // apply (run by clone) owns the unit that binds the root at boot on a real server.
    expect(await fs.readFile(golden.root.resolve(`/etc/systemd/system/${mountUnitName('/srv/nodes/node01')}`), 'utf8')).toContain('Where=/srv/nodes/node01\nType=none\nOptions=bind\n')
    // Under --root apply mounts nothing on the host: the lab binds the root in its own namespace.
    expect(await mountsUnder(golden.root.resolve(golden.site.paths.nodes))).toEqual([])

    const r = await runCommand(LabBootCommand, ['node01', ...root, '--timeout', '420', '--accel', ACCEL])
    expect(r.error?.message, 'lab boot failed').toBeUndefined()
    const [node] = (r.result as LabBootResult).nodes
    expect(node).toMatchObject({name: 'node01', passed: true, hostname: 'node01'})
    expect(node.milestones.every((m) => m.seconds !== undefined), JSON.stringify(node.milestones)).toBe(true)
    expect(r.stderr).toContain('/srv/nodes/node01 bound onto itself for NFS-Ganesha')
    // The lab's bind died with its namespace.
    expect(await mountsUnder(golden.root.resolve(golden.site.paths.nodes))).toEqual([])
  }, 900_000)
})
