/**
 * doctor on a site whose nodes boot from RBD: the initrd of the revision they boot (the real
 * golden one, zstd-compressed, as the tftp root serves it) has the boot script and the kernel's
 * RBD client; an initrd without them (an image built before pxeroot booted from RBD) fails the
 * check, naming the nodes and the fix. Needs the golden image (debootstrap) and zstd.
 */
import {execa} from 'execa'
import {promises as fs} from 'node:fs'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {rbdRootArgs} from '../../src/boot/rbd-root.js'
import DoctorCommand from '../../src/commands/doctor.js'
import {type Check} from '../../src/doctor/checks.js'
import {type Golden, goldenImage, removeGoldenRoot, runCommand} from '../support/golden.js'
import {newcArchive} from '../support/cpio.js'

const isRoot = process.getuid?.() === 0
let golden: Golden

async function rbdChecks(): Promise<Check[]> {
  const r = await runCommand(DoctorCommand, ['--root', golden.rootPrefix, '--json'])
  return (r.result as {checks: Check[]}).checks.filter((c) => c.check.startsWith('rbd boot'))
}

describe.skipIf(!isRoot)('doctor: the initrd of nodes that boot from RBD', () => {
  beforeAll(async () => {
    golden = await goldenImage()
    const {default: NodesAdd} = await import('../../src/commands/nodes/add.js')
    const rbd = rbdRootArgs({monitors: ['10.77.0.253:6789'], pool: 'rbd', namespace: 'node01', image: 'root', user: 'node01', secret: 'AQDZ3RJrZ0fiHRAA/5Nhiv1C3VO+2RPCfyMVmA=='})
    for (const [name, args] of [['node01', ['--kernel-args', rbd]], ['node02', []]] as const) {
      const added = await runCommand(NodesAdd, [name, ...args, '--root', golden.rootPrefix])
      if (added.code !== 0) throw added.error
    }
  }, 1_800_000)

  afterAll(async () => {
    if (golden) await removeGoldenRoot(golden)
  })

  it('passes on the golden revision\'s initrd, and names what an older one lacks', async () => {
    expect(await rbdChecks()).toEqual([{check: 'rbd boot debian-bookworm@1', status: 'ok', message: 'its initrd has the RBD boot script and the kernel\'s RBD client (rbd, libceph); node01 boots it from RBD'}])

    // The same revision served with an initrd from before the RBD boot: NFS only.
    const initrd = golden.root.resolve(path.posix.join(golden.site.paths.tftp, 'pxeroot/debian-bookworm/1/initrd.img'))
    const old = newcArchive({'scripts/nfs': 'mountroot() { :; }\n', 'usr/lib/modules/6.1.0-57-amd64/kernel/fs/nfs/nfs.ko': 'x'})
    await fs.writeFile(initrd, (await execa('zstd', ['-q', '-c'], {input: old, encoding: 'buffer'})).stdout)
    expect(await rbdChecks()).toEqual([{
      check: 'rbd boot debian-bookworm@1',
      status: 'fail',
      message: 'its initrd (pxeroot/debian-bookworm/1/initrd.img) lacks the RBD boot script (scripts/rbd), rbd.ko, libceph.ko: node01 boots it from RBD and would stop in the initramfs',
      fix: 'the image was built before pxeroot booted from RBD: make a new revision ("pxeroot image update", which adds it, or "pxeroot image build") and rebase these nodes on it',
    }])
  }, 300_000)
})
