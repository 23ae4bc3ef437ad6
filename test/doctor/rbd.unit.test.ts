/**
 * doctor's RBD boot check reads initrds as the kernel unpacks them: early uncompressed archives,
 * then the compressed main one; a boot=rbd initrd needs scripts/rbd and rbd + libceph (modules or
 * built in). Synthetic initrds here; the real golden one in test/doctor/rbd.test.ts.
 */
import {promises as fs} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {gzipSync} from 'node:zlib'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {rbdBootReadiness} from '../../src/images/initrd.js'
import {compressionAt, cpioMembers, initrdMembers} from '../../src/system/initrd.js'
import {newcArchive} from '../support/cpio.js'

const MODULES = 'usr/lib/modules/6.1.0-57-amd64'
const READY = {
  'scripts/rbd': 'mountroot() { :; }\n',
  [`${MODULES}/kernel/drivers/block/rbd.ko`]: 'x',
  [`${MODULES}/kernel/net/ceph/libceph.ko`]: 'x',
}

let dir = ''
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pxeroot-initrd-'))
})
afterEach(async () => {
  await fs.rm(dir, {recursive: true, force: true})
})

describe('an initrd\'s members', () => {
  it('reads an early uncompressed archive, then the compressed main one after it', async () => {
    const early = newcArchive({'kernel/x86/microcode/GenuineIntel.bin': 'ucode'})
    const main = gzipSync(newcArchive({...READY, [`${MODULES}/modules.builtin`]: 'kernel/fs/ext4/ext4.ko\n'}))
    // mkinitramfs pads between archives.
    const file = path.join(dir, 'initrd.img')
    await fs.writeFile(file, Buffer.concat([early, Buffer.alloc(512), main]))
    const {end} = cpioMembers(await fs.readFile(file))
    expect(compressionAt(await fs.readFile(file), end)).toBe('gzip')
    const members = await initrdMembers(file, (n) => n.endsWith('/modules.builtin'))
    expect(members.map((m) => m.name)).toEqual(expect.arrayContaining(['kernel/x86/microcode/GenuineIntel.bin', 'scripts/rbd', `${MODULES}/kernel/drivers/block/rbd.ko`]))
    expect(members.find((m) => m.name.endsWith('modules.builtin'))?.data?.toString()).toBe('kernel/fs/ext4/ext4.ko\n')
    expect(members.find((m) => m.name === 'scripts/rbd')?.data).toBeUndefined()
  })
})

describe('what a boot=rbd initrd must hold', () => {
  const members = (files: Record<string, string>) => cpioMembers(newcArchive(files), (n) => n.endsWith('/modules.builtin')).members

  it('is ready with the script and both modules, compressed or built in', () => {
    expect(rbdBootReadiness(members(READY))).toEqual({script: true, missingModules: []})
    expect(rbdBootReadiness(members({'scripts/rbd': '', [`${MODULES}/kernel/drivers/block/rbd.ko.zst`]: 'x', [`${MODULES}/modules.builtin`]: 'kernel/net/ceph/libceph.ko\n'}))).toEqual({script: true, missingModules: []})
  })

  it('says what is missing: an image built before the RBD boot has neither script nor modules', () => {
    expect(rbdBootReadiness(members({'scripts/nfs': '', [`${MODULES}/kernel/fs/nfs/nfs.ko`]: 'x'}))).toEqual({script: false, missingModules: ['rbd', 'libceph']})
    expect(rbdBootReadiness(members({'scripts/rbd': '', [`${MODULES}/kernel/net/ceph/libceph.ko`]: 'x'}))).toEqual({script: true, missingModules: ['rbd']})
  })
})
