/**
 * Nodes that boot with their root on their own RBD clone, mapped by their own kernel (issue 17),
 * in the lab against the real shared test cluster, made the way a user makes them: `storage
 * prepare --rbd` (the cluster's namespace recorded as storage.rbd.netns), the golden revision
 * imported into the pool, `nodes clone 2` (clones, keys, identity), `apply`. node01 boots with /
 * on /dev/rbd0 and its own hostname, is shut down cleanly, and what it wrote (its journal, down to
 * the shutdown) is read back through the cluster. node02, started once node01 is up, claims
 * node01's root with node01's key (its kernelArgs, which come last on its command line) and is
 * refused by the exclusive lock at once; node01 keeps its data. Needs root, qemu, dhcpd,
 * tftpd-hpa, NFS-Ganesha, Ceph and qemu-storage-daemon (qemu-block-extra).
 */
import {execa} from 'execa'
import {promises as fs} from 'node:fs'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {rbdRootArgs, type RbdRootSpec} from '../../src/boot/rbd-root.js'
import {type LabBootOptions, type LabBootResult} from '../../src/lab/run.js'
import {labBoot} from '../../src/services/lab-boot.js'
import {withStorage} from '../../src/storage/registry.js'
import {cephSkipReason, oneLabOnCluster, sharedCluster, type TestCluster} from '../support/ceph.js'
import {type Golden, runCommand} from '../support/golden.js'
import {ACCEL, bootInLab, installed, isRoot, labContext, leftovers} from '../support/lab-run.js'
import {importGolden, rbdSite, type RbdSite} from '../support/rbd-site.js'

const skip = (await cephSkipReason()) ?? (isRoot && !await installed('qemu-storage-daemon') ? 'qemu-storage-daemon is not installed (apt-get install qemu-block-extra qemu-utils)' : undefined)
const MAC01 = '52:54:00:17:00:01'
const MAC02 = '52:54:00:17:00:02'

let cluster: TestCluster
let s: RbdSite
/** The rbd site as the lab helpers take a root. */
let golden: Golden
let node01: RbdRootSpec

describe.skipIf(!isRoot || skip !== undefined)(`lab boot from RBD${skip ? ` (skipped: ${skip})` : ''}`, () => {
  beforeAll(async () => {
    cluster = await sharedCluster()
    s = await rbdSite(cluster)
    await importGolden(s)
    golden = {root: s.ctx.root, site: await s.site(), ref: {image: 'debian-bookworm', revision: 1}, rootPrefix: s.dir}
    const {default: NodesClone} = await import('../../src/commands/nodes/clone.js')
    const {default: NodesSet} = await import('../../src/commands/nodes/set.js')
    const {default: Apply} = await import('../../src/commands/apply.js')
    const cloned = await runCommand(NodesClone, ['2', ...s.root])
    if (cloned.code !== 0) throw cloned.error
    const boot = await withStorage(s.ctx, golden.site, (storage) => storage.rootBoot(['node01']))
    const {kind: _kind, ...spec} = boot.get('node01') as Extract<ReturnType<typeof boot.get>, {kind: 'rbd'}>
    node01 = spec
    // node02 claims node01's root, with node01's key: a second machine booting the same root.
    for (const [name, mac, args] of [['node01', MAC01, []], ['node02', MAC02, ['--kernel-args', rbdRootArgs(node01)]]] as const) {
      const set = await runCommand(NodesSet, [name, '--mac', mac, ...args, ...s.root])
      if (set.code !== 0) throw set.error
    }
    const applied = await runCommand(Apply, s.root)
    if (applied.code !== 0) throw applied.error
  }, 1_800_000)

  afterAll(async () => {
    await s?.cleanup()
  })

  it('node01 boots with / on /dev/rbd0 and its own name, shuts down cleanly with its writes in the cluster; node02, claiming the same root, is refused by the lock', async () => {
    const pxelinux = await fs.readFile(golden.root.resolve(path.posix.join(golden.site.paths.tftp, 'pxelinux.cfg/01-52-54-00-17-00-01')), 'utf8')
    expect(pxelinux).toContain(`boot=rbd pxeroot.rbd=${cluster.monitor}/${s.pool}/node01/root pxeroot.rbd_user=pxeroot.${s.pool}.node01 pxeroot.rbd_key=`)

    // The lab finds the cluster's namespace in the site (storage.rbd.netns).
    // One lab on the cluster's wire at a time: the failover lab may be on it (test/support/ceph.ts).
    const result: LabBootResult = await oneLabOnCluster(cluster, () => bootInLab(golden, ['node01', 'node02'], {oneAtATime: true}))
    const [n1, n2] = result.nodes
    expect(n1, n1.reason).toMatchObject({name: 'node01', passed: true, hostname: 'node01', root: {source: '/dev/rbd0', fstype: 'ext4'}})
    expect(n1.milestones.map((m) => m.label)).toContain('RBD root mounted')
    expect(n1.milestones.map((m) => m.label)).not.toContain('NFS root mounted')
    expect(n1.shutdown?.clean, JSON.stringify(n1.shutdown)).toBe(true)
    // Refused at once, in the boot script's words, with the kernel's reason.
    expect(n2).toMatchObject({name: 'node02', passed: false, missed: 'RBD root mounted'})
    expect(n2.reason).toMatch(new RegExp(`^console: pxeroot-rbd: FAILED: ${s.pool}/node01/root is in use by another machine \\(peer will not release lock\\): .* \\(kernel: rbd: rbd\\d: peer will not release lock\\)$`))
    // A run with a failed node keeps its logs for the admin: this one failed as it must.
    expect(result.logs).toBeDefined()
    await fs.rm(result.logs!, {recursive: true, force: true})
    expect(n2.seconds).toBeLessThan(180)

    // What node01 wrote, read through the cluster after it shut down: its journal of this boot,
    // from the lab's probe (its / on /dev/rbd0) down to journald's last words at shutdown, on a
    // filesystem left clean, through the view status reads boot reports from. node02 never got to write.
    await withStorage(s.ctx, golden.site, async (storage) => {
      const root = await storage.openRoot('node01', {write: false})
      try {
        const journal = path.join(root.dir, 'var/log/journal', n1.machineId!)
        const lines = (await execa('journalctl', ['-D', journal, '--no-pager', '-o', 'cat'])).stdout
        expect(lines).toContain('/proc/self/mounts:/dev/rbd0 / ext4 rw')
        expect(lines).toContain('/etc/hostname:node01')
        expect(lines).toMatch(/Journal stopped/)
        expect(await fs.readFile(path.join(root.dir, 'etc/hostname'), 'utf8')).toBe('node01\n')
      } finally {
        await root.close()
      }
    })
    // status: node01 reported the revision it booted from its own root; its root counts as mounted
    // exactly while the cluster has a client of its clone (the powered-off kernel's watch lingers
    // until it times out, ~30 s); ISC dhcpd records no lease for a MAC-bound node, so that is its
    // state. node02 never mapped its own clone.
    const {default: Status} = await import('../../src/commands/status.js')
    const watched = async () => (await cluster.rbd(['status', `${s.pool}/node01/root`])).includes('watcher=')
    const before = await watched()
    const status = await runCommand(Status, ['--json', ...s.root])
    const after = await watched()
    const [st1, st2] = (status.result as {nodes: {name: string, state: string, rootMounted: boolean, booted: {revision: string} | null}[]}).nodes
    expect(st1).toMatchObject({name: 'node01', booted: {revision: 'debian-bookworm@1'}})
    if (before === after) expect(st1.rootMounted).toBe(before)
    expect(st1.state).toBe(st1.rootMounted ? 'up' : 'down')
    expect(st2).toMatchObject({name: 'node02', state: 'down', rootMounted: false, booted: null})
    expect(await leftovers()).toEqual({namespaces: [], mounts: [], processes: []})
    // The lab's link to the cluster went with its namespace.
    expect((await execa('ip', ['-n', cluster.namespace, '-o', 'link', 'show', 'master', 'ceph0'])).stdout).not.toMatch(new RegExp(`lab${process.pid}`))
  }, 1_200_000)

  it('refuses before anything starts: a cluster namespace that does not exist, a monitor off the boot subnet, another lab run on the cluster', async () => {
    await oneLabOnCluster(cluster, async () => {
      const refusal = async (options: Partial<LabBootOptions>, nodes = ['node01']) => {
        const error = await labBoot(labContext(golden), {nodes, timeout: 60, accel: ACCEL, ...options}).then(() => undefined, (e: Error & {exitCode?: number}) => e)
        return {code: error?.exitCode, message: error?.message}
      }
      expect(await refusal({cephNetns: 'pxeroot-ceph-nothere'})).toEqual({code: 3, message: 'the cluster\'s network namespace pxeroot-ceph-nothere does not exist'})

      // Another lab run (a live process: PID 1) holds the cluster's bridge.
      await execa('ip', ['-n', cluster.namespace, 'link', 'add', 'lab1', 'type', 'veth', 'peer', 'name', 'lab1-peer'])
      try {
        await execa('ip', ['-n', cluster.namespace, 'link', 'set', 'lab1', 'master', 'ceph0'])
        expect(await refusal({})).toEqual({code: 5, message: `another lab run (pid 1) is connected to the cluster in ${cluster.namespace}`})
      } finally {
        await execa('ip', ['-n', cluster.namespace, 'link', 'delete', 'lab1'])
      }

      const {default: NodesSet} = await import('../../src/commands/nodes/set.js')
      const set = await runCommand(NodesSet, ['node02', '--kernel-args', rbdRootArgs({...node01, monitors: ['192.0.2.1:6789']}), '--root', golden.rootPrefix])
      expect(set.code).toBe(0)
      expect(await refusal({}, ['node02'])).toEqual({code: 3, message: 'the lab\'s VMs reach the cluster on their own link, but the monitor 192.0.2.1:6789 is outside the boot subnet 10.77.0.0/24'})
      expect(await leftovers()).toEqual({namespaces: [], mounts: [], processes: []})
    })
  }, 1_200_000)
})
