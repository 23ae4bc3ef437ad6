/**
 * Nodes that boot with their root on their own RBD clone, mapped by their own kernel (issue 17),
 * in the lab against the real shared test cluster: node01's pxelinux entry says boot=rbd with its
 * clone and its key; the lab joins the cluster's network; node01 boots with / on /dev/rbd0 and
 * its own hostname, is shut down cleanly, and what it wrote (its journal, down to the shutdown) is
 * read back through the cluster. node02, started once node01 is up, claims node01's root with
 * node01's key and is refused by the exclusive lock at once; node01 keeps its data.
 *
 * The cluster side (revision, clone, key, identity) is made with the Ceph CLI here
 * (support/rbd-fixtures.ts) until `nodes clone` makes it on an rbd site; the command line is what
 * boot/rbd-root.ts renders, given to the nodes as their kernelArgs. Needs root, qemu, dhcpd,
 * tftpd-hpa, NFS-Ganesha, Ceph and qemu-storage-daemon (qemu-block-extra).
 */
import {execa} from 'execa'
import {promises as fs} from 'node:fs'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {rbdRootArgs, type RbdRootSpec} from '../../src/boot/rbd-root.js'
import {identityOf, newMachineId, writeIdentity} from '../../src/clone/identity.js'
import {type LabBootOptions, type LabBootResult} from '../../src/lab/run.js'
import {labBoot} from '../../src/services/lab-boot.js'
import {makeContext} from '../../src/system/context.js'
import {cephSkipReason, sharedCluster, type TestCluster} from '../support/ceph.js'
import {type Golden, removeGoldenRoot, runCommand} from '../support/golden.js'
import {ACCEL, bootInLab, installed, isRoot, labContext, labGolden, leftovers} from '../support/lab-run.js'
import {cloneForNode, importRevision, removeNodeRoot, removeRevision, withRoot} from '../support/rbd-fixtures.js'

const skip = (await cephSkipReason()) ?? (isRoot && !await installed('qemu-storage-daemon') ? 'qemu-storage-daemon is not installed (apt-get install qemu-block-extra qemu-utils)' : undefined)
const MAC01 = '52:54:00:17:00:01'
const MAC02 = '52:54:00:17:00:02'

let golden: Golden
let cluster: TestCluster
let snap = ''
let node01: RbdRootSpec

describe.skipIf(!isRoot || skip !== undefined)(`lab boot from RBD${skip ? ` (skipped: ${skip})` : ''}`, () => {
  beforeAll(async () => {
    cluster = await sharedCluster()
    golden = await labGolden()
    const tree = golden.root.resolve(path.posix.join(golden.site.paths.images, golden.ref.image, String(golden.ref.revision), 'rootfs'))
    snap = await importRevision(cluster, tree, `${golden.ref.image}-${process.pid}`, golden.ref.revision)
    node01 = await cloneForNode(cluster, snap, 'node01')
    // node01's identity, written by pxeroot's own identity code into the attached clone.
    await withRoot(cluster, 'node01', {write: true}, (dir) => writeIdentity(makeContext(), dir, identityOf(golden.site, 'node01', newMachineId(), 'fresh')))
    const {default: NodesAdd} = await import('../../src/commands/nodes/add.js')
    const {default: Apply} = await import('../../src/commands/apply.js')
    const root = ['--root', golden.rootPrefix]
    // node02 claims node01's root, with node01's key: a second machine booting the same root.
    for (const [name, mac] of [['node01', MAC01], ['node02', MAC02]]) {
      const added = await runCommand(NodesAdd, [name, '--mac', mac, '--kernel-args', rbdRootArgs(node01), ...root])
      if (added.code !== 0) throw added.error
      // The lab wants a root entry for each node; on this site's local storage, an empty one.
      await fs.mkdir(golden.root.resolve(path.posix.join(golden.site.paths.nodes, name)), {recursive: true})
    }
    const applied = await runCommand(Apply, root)
    if (applied.code !== 0) throw applied.error
  }, 1_800_000)

  afterAll(async () => {
    if (cluster) {
      await removeNodeRoot(cluster, 'node01')
      if (snap) await removeRevision(cluster, snap)
    }
    if (golden) await removeGoldenRoot(golden)
  })

  it('node01 boots with / on /dev/rbd0 and its own name, shuts down cleanly with its writes in the cluster; node02, claiming the same root, is refused by the lock', async () => {
    const pxelinux = await fs.readFile(golden.root.resolve(path.posix.join(golden.site.paths.tftp, 'pxelinux.cfg/01-52-54-00-17-00-01')), 'utf8')
    expect(pxelinux).toContain(`boot=rbd pxeroot.rbd=${cluster.monitor}/rbd/node01/root pxeroot.rbd_user=node01 pxeroot.rbd_key=`)

    const result: LabBootResult = await bootInLab(golden, ['node01', 'node02'], {cephNetns: cluster.namespace, oneAtATime: true})
    const [n1, n2] = result.nodes
    expect(n1, n1.reason).toMatchObject({name: 'node01', passed: true, hostname: 'node01', root: {source: '/dev/rbd0', fstype: 'ext4'}})
    expect(n1.milestones.map((m) => m.label)).toContain('RBD root mounted')
    expect(n1.milestones.map((m) => m.label)).not.toContain('NFS root mounted')
    expect(n1.shutdown?.clean, JSON.stringify(n1.shutdown)).toBe(true)
    // Refused at once, in the boot script's words, with the kernel's reason.
    expect(n2).toMatchObject({name: 'node02', passed: false, missed: 'RBD root mounted'})
    expect(n2.reason).toMatch(/^console: pxeroot-rbd: FAILED: rbd\/node01\/root is in use by another machine \(peer will not release lock\): .* \(kernel: rbd: rbd\d: peer will not release lock\)$/)
    // A run with a failed node keeps its logs for the admin: this one failed as it must.
    expect(result.logs).toBeDefined()
    await fs.rm(result.logs!, {recursive: true, force: true})
    expect(n2.seconds).toBeLessThan(180)

    // What node01 wrote, read through the cluster after it shut down: its journal of this boot,
    // from the lab's probe (its / on /dev/rbd0) down to journald's last words at shutdown, on a
    // filesystem left clean. node02 never got to write.
    await withRoot(cluster, 'node01', {write: false}, async (dir) => {
      const journal = path.join(dir, 'var/log/journal', n1.machineId!)
      const lines = (await execa('journalctl', ['-D', journal, '--no-pager', '-o', 'cat'])).stdout
      expect(lines).toContain('/proc/self/mounts:/dev/rbd0 / ext4 rw')
      expect(lines).toContain('/etc/hostname:node01')
      expect(lines).toMatch(/Journal stopped/)
      expect(await fs.readFile(path.join(dir, 'etc/hostname'), 'utf8')).toBe('node01\n')
    })
    expect(await leftovers()).toEqual({namespaces: [], mounts: [], processes: []})
    // The lab's link to the cluster went with its namespace.
    expect((await execa('ip', ['-n', cluster.namespace, '-o', 'link', 'show', 'master', 'ceph0'])).stdout).not.toMatch(new RegExp(`lab${process.pid}`))
  }, 1_200_000)

  it('refuses before anything starts: no cluster namespace named, one that does not exist, a monitor off the boot subnet, another lab run on the cluster', async () => {
    const refusal = async (options: Partial<LabBootOptions>, nodes = ['node01']) => {
      const error = await labBoot(labContext(golden), {nodes, timeout: 60, accel: ACCEL, ...options}).then(() => undefined, (e: Error & {exitCode?: number}) => e)
      return {code: error?.exitCode, message: error?.message}
    }
    expect(await refusal({})).toEqual({code: 3, message: 'node01 boots from RBD: the lab joins the cluster\'s network to reach it, and needs its network namespace'})
    expect(await refusal({cephNetns: 'pxeroot-ceph-nothere'})).toEqual({code: 3, message: 'the cluster\'s network namespace pxeroot-ceph-nothere does not exist'})

    // Another lab run (a live process: PID 1) holds the cluster's bridge.
    await execa('ip', ['-n', cluster.namespace, 'link', 'add', 'lab1', 'type', 'veth', 'peer', 'name', 'lab1-peer'])
    try {
      await execa('ip', ['-n', cluster.namespace, 'link', 'set', 'lab1', 'master', 'ceph0'])
      expect(await refusal({cephNetns: cluster.namespace})).toEqual({code: 5, message: `another lab run (pid 1) is connected to the cluster in ${cluster.namespace}`})
    } finally {
      await execa('ip', ['-n', cluster.namespace, 'link', 'delete', 'lab1'])
    }

    const {default: NodesSet} = await import('../../src/commands/nodes/set.js')
    const set = await runCommand(NodesSet, ['node02', '--kernel-args', rbdRootArgs({...node01, monitors: ['192.0.2.1:6789']}), '--root', golden.rootPrefix])
    expect(set.code).toBe(0)
    expect(await refusal({cephNetns: cluster.namespace}, ['node02'])).toEqual({code: 3, message: 'the lab\'s VMs reach the cluster on their own link, but the monitor 192.0.2.1:6789 is outside the boot subnet 10.77.0.0/24'})
    expect(await leftovers()).toEqual({namespaces: [], mounts: [], processes: []})
  }, 300_000)
})
