/**
 * How the lab follows a node that boots from RBD, without root, VMs or a cluster: what its kernel
 * command line asks for, what the boot script and the booted node say on the console, and the
 * lab's decision (the real boots: test/lab/rbd.test.ts).
 */
import {describe, expect, it} from 'vitest'

import {rbdRootArgs} from '../../src/boot/rbd-root.js'
import {newProgress, observe} from '../../src/lab/decide.js'
import {type BootTarget, fatalLine, identityIn, milestonesOf, whyMissing} from '../../src/lab/milestones.js'
import {rbdFailureIn, rbdMountedIn, rbdTargetOf} from '../../src/lab/rbd.js'
import {TftpTracker} from '../../src/lab/tftp.js'

const ARGS = rbdRootArgs({monitors: ['10.77.0.253:6789'], pool: 'rbd', namespace: 'node01', image: 'root', user: 'node01', secret: 'AQDZ3RJrZ0fiHRAA/5Nhiv1C3VO+2RPCfyMVmA=='})
const RBD = {name: 'rbd/node01/root', monitors: ['10.77.0.253:6789'], user: 'node01'}
const TARGET: BootTarget = {
  name: 'node01', ip: '10.77.0.100', mac: '52:54:00:aa:00:01', rootPath: '/srv/nodes/node01', rbd: RBD,
  loader: 'pxelinux.0', config: 'pxelinux.cfg/01-52-54-00-aa-00-01', kernel: 'pxeroot/lab/1/vmlinuz', initrd: 'pxeroot/lab/1/initrd.img',
}

const MOUNTED = [
  'IP-Config: ens3 complete (dhcp from 10.77.0.1):',
  ' address: 10.77.0.100      broadcast: 10.77.0.255      netmask: 255.255.255.0',
  'pxeroot-rbd: mapping rbd/node01/root from 10.77.0.253:6789 as client.node01 (exclusive)',
  '[   25.210812] rbd: rbd0: capacity 2147483648 features 0x13d',
  'pxeroot-rbd: mapped rbd/node01/root at /dev/rbd0 (exclusive lock held)',
  'pxeroot-rbd: / is /dev/rbd0 (ext4, rw)',
].join('\n')
const REFUSED = 'pxeroot-rbd: FAILED: rbd/node01/root is in use by another machine (peer will not release lock): two machines must not run one root; power the other one off, or fence it (ceph osd blocklist add), then boot this one again (kernel: rbd: rbd0: peer will not release lock)\n(initramfs) '

describe('a node\'s RBD root as its kernel command line says', () => {
  it('reads what rbdRootArgs renders, as the initramfs does (the last boot= wins)', () => {
    expect(rbdTargetOf(`root=/dev/nfs nfsroot=10.77.0.1:/srv/nodes/node01,vers=3,tcp ip=dhcp rw ${ARGS}`)).toEqual(RBD)
    expect(rbdTargetOf(`${ARGS} boot=nfs`)).toBeUndefined()
    expect(rbdTargetOf('root=/dev/nfs nfsroot=10.77.0.1:/srv/nodes/node01 ip=dhcp rw')).toBeUndefined()
    expect(rbdTargetOf('boot=rbd pxeroot.rbd=a:6789,b:6789/rbd//root pxeroot.rbd_user=n')).toEqual({name: 'rbd/root', monitors: ['a:6789', 'b:6789'], user: 'n'})
    // A malformed one is still an RBD boot: the boot script will say what is wrong.
    expect(rbdTargetOf('boot=rbd pxeroot.rbd=x')).toEqual({name: 'x', monitors: [], user: ''})
  })
})

describe('the console of an RBD boot', () => {
  it('shows the mapped root, the boot script\'s refusal, and the booted node\'s / from its mount table', () => {
    expect(rbdMountedIn(MOUNTED)).toEqual({device: '/dev/rbd0', fstype: 'ext4', mode: 'rw'})
    expect(rbdFailureIn(MOUNTED)).toBeUndefined()
    expect(rbdFailureIn(REFUSED)).toMatch(/^rbd\/node01\/root is in use by another machine \(peer will not release lock\)/)
    const booted = '[   46.5] grep[236]: /proc/self/mounts:sysfs /sys sysfs rw 0 0\n[   46.7] grep[236]: /proc/self/mounts:/dev/rbd0 / ext4 rw,relatime 0 0\n'
    expect(identityIn(booted).root).toEqual({source: '/dev/rbd0', fstype: 'ext4'})
    expect(identityIn('grep[1]: /proc/self/mounts:10.77.0.1:/srv/nodes/node01 / nfs rw,vers=3 0 0\n').root).toEqual({source: '10.77.0.1:/srv/nodes/node01', fstype: 'nfs'})
  })

  it('has the milestone "RBD root mounted" instead of the NFS mount, reached from the boot script\'s line', () => {
    const labels = milestonesOf(TARGET).map((m) => m.label)
    expect(labels).toContain('RBD root mounted')
    expect(labels).not.toContain('NFS root mounted')
    const all = [TARGET.loader, TARGET.config, TARGET.kernel, TARGET.initrd]
    const p = newProgress(TARGET, 0)
    const tftp = new TftpTracker('10.77.0.1')
    all.forEach((file, i) => {
      const rrq = Buffer.concat([Buffer.from([0, 1]), Buffer.from(`${file}\0octet\0`)])
      tftp.add({srcIp: TARGET.ip, dstIp: '10.77.0.1', srcPort: 2000 + i, dstPort: 69, length: rrq.length, payload: rrq})
      tftp.add({srcIp: '10.77.0.1', dstIp: TARGET.ip, srcPort: 40_000 + i, dstPort: 2000 + i, length: 104, payload: Buffer.from([0, 3, 0, 1, ...new Array(100).fill(0)])})
    })
    // No NFS mount at all: the root is the node's own business with the cluster.
    observe(p, {evidence: {leases: [{ip: TARGET.ip, mac: TARGET.mac}], mounts: [], tftp, console: `${MOUNTED}\nnode01 login: `}, now: 40_000, deadline: 600_000})
    expect(p.outcome).toMatchObject({passed: true})
    expect([...p.reached.keys()]).toEqual(expect.arrayContaining(['ipconfig', 'rbdroot', 'login']))
  })

  it('fails at once on the boot script\'s refusal, with its words as the reason', () => {
    expect(fatalLine(REFUSED)).toMatch(/^pxeroot-rbd: FAILED: rbd\/node01\/root is in use/)
    const p = newProgress(TARGET, 0)
    observe(p, {evidence: {leases: [], mounts: [], tftp: new TftpTracker('10.77.0.1'), console: REFUSED}, now: 30_000, deadline: 600_000})
    expect(p.outcome).toMatchObject({passed: false, kind: 'fatal', reason: expect.stringContaining('peer will not release lock')})
    // The fatal line is the reason; the milestone adds nothing to it.
    expect(whyMissing('rbdroot', TARGET, {leases: [], mounts: [], tftp: new TftpTracker('10.77.0.1'), console: REFUSED})).toBeUndefined()
    expect(whyMissing('rbdroot', TARGET, {leases: [], mounts: [], tftp: new TftpTracker('10.77.0.1'), console: ''})).toBe('no "pxeroot-rbd: / is" line for rbd/node01/root on the console')
  })
})
