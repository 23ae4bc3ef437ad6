import {describe, expect, it} from 'vitest'

import {dhcpdAcks} from '../../src/backends/dhcp/isc-lab.js'
import {parseSite} from '../../src/config/site-file.js'
import {type BootNode} from '../../src/boot/model.js'
import {bootNodesFor} from '../../src/boot/nodes.js'
import {parseInventory} from '../../src/inventory/inventory.js'
import {renderPxelinuxNode} from '../../src/render/loaders/pxelinux.js'
import {labGaneshaConfig} from '../../src/lab/ganesha.js'
import {
  addressesIn, type BootTarget, fatalLine, identityIn, mountsIn, plainConsole, reachedMilestones, whyMissing,
} from '../../src/lab/milestones.js'
import {PcapReader} from '../../src/lab/pcap.js'
import {bootFilesOf, LAB_KERNEL_ARGS, labPxelinux} from '../../src/lab/pxelinux.js'
import {labMac, qemuArgs} from '../../src/lab/qemu.js'
import {TftpTracker} from '../../src/lab/tftp.js'
import {pcap, tftp, udpFrame} from '../support/pcap-frames.js'

const SERVER = '10.77.0.1'
const VM = '10.77.0.101'

/** A boot's TFTP reads: pxelinux.0 in two 1468-byte blocks and a short one, then a config lookup that misses and one that hits. */
function bootCapture(): Buffer {
  return pcap([
    udpFrame(VM, SERVER, 2000, 69, tftp.rrq('pxelinux.0', 'blksize', '1468', 'tsize', '0')),
    udpFrame(SERVER, VM, 40000, 2000, tftp.oack('blksize', '1468', 'tsize', '3000')),
    udpFrame(SERVER, VM, 40000, 2000, tftp.data(1, 1468)),
    udpFrame(SERVER, VM, 40000, 2000, tftp.data(2, 1468)),
    udpFrame(SERVER, VM, 40000, 2000, tftp.data(3, 64)),
    udpFrame(VM, SERVER, 2001, 69, tftp.rrq('/pxelinux.cfg/01-52-54-00-4d-00-65')),
    udpFrame(SERVER, VM, 40001, 2001, tftp.error('File not found')),
    udpFrame(VM, SERVER, 2002, 69, tftp.rrq('pxelinux.cfg/0A4D0065')),
    udpFrame(SERVER, VM, 40002, 2002, tftp.data(1, 300)),
  ])
}

describe('TFTP reads from the VM capture', () => {
  it('tells a complete read from a missing file and a partial one, however the capture arrives', () => {
    const bytes = bootCapture()
    for (const chunk of [bytes.length, 7, 100]) {
      const reader = new PcapReader()
      const tracker = new TftpTracker(SERVER)
      for (let at = 0; at < bytes.length; at += chunk) for (const d of reader.push(bytes.subarray(at, at + chunk))) tracker.add(d)
      expect(tracker.read('pxelinux.0')?.state).toBe('done')
      expect(tracker.read('pxelinux.cfg/01-52-54-00-4d-00-65')).toMatchObject({state: 'error', error: 'File not found'})
      expect(tracker.read('pxelinux.cfg/0A4D0065')?.state).toBe('done')
      expect(tracker.read('pxeroot/x/1/vmlinuz')).toBeUndefined()
    }
  })

  it('does not count a read that stopped mid-file', () => {
    const reader = new PcapReader()
    const tracker = new TftpTracker(SERVER)
    for (const d of reader.push(pcap([
      udpFrame(VM, SERVER, 2000, 69, tftp.rrq('vmlinuz', 'blksize', '1468')),
      udpFrame(SERVER, VM, 40000, 2000, tftp.oack('blksize', '1468')),
      udpFrame(SERVER, VM, 40000, 2000, tftp.data(1, 1468)),
    ]))) tracker.add(d)
    expect(tracker.read('vmlinuz')?.state).toBe('sending')
  })

  it('refuses a file that is not a capture', () => {
    expect(() => new PcapReader().push(Buffer.from('not a capture at all, really'))).toThrow(/pcap/)
  })
})

const TARGET: BootTarget = {
  name: 'node02', ip: VM, mac: '52:54:00:4d:00:65', rootPath: '/srv/nodes/node02',
  loader: 'pxelinux.0', config: 'pxelinux.cfg/0A4D0065', kernel: 'pxeroot/debian-bookworm/1/vmlinuz', initrd: 'pxeroot/debian-bookworm/1/initrd.img',
}

// Excerpts of real logs of a lab run (dhcpd -d, NFS-Ganesha with NFSPROTO at DEBUG, the serial console).
const DHCPD = `DHCPDISCOVER from 52:54:00:4d:00:65 via br0
DHCPOFFER on 10.77.0.101 to 52:54:00:4d:00:65 via br0
DHCPREQUEST for 10.77.0.101 (10.77.0.1) from 52:54:00:4d:00:65 via br0
DHCPACK on 10.77.0.101 to 52:54:00:4d:00:65 via br0
DHCPACK on 10.77.0.100 to 52:54:00:aa:00:01 via br0
`
const GANESHA = `24/11/2026 22:33:08 : epoch 6b06106b : vm : ganesha.nfsd-4470[svc_2] mnt_Mnt :NFS3 :DEBUG :REQUEST PROCESSING: Calling MNT_MNT path=/srv/nodes/node01
24/11/2026 22:33:08 : epoch 6b06106b : vm : ganesha.nfsd-4470[svc_12] mnt_Mnt :NFS3 :DEBUG :REQUEST PROCESSING: Calling MNT_MNT path=/srv/nodes/node02
24/11/2026 22:33:08 : epoch 6b06106b : vm : ganesha.nfsd-4470[svc_2] mnt_Mnt :NFS3 :DEBUG :MOUNT: Entry supports 1 different flavours handle=0x4300 for client ::ffff:10.77.0.100
24/11/2026 22:33:08 : epoch 6b06106b : vm : ganesha.nfsd-4470[svc_12] mnt_Mnt :NFS3 :DEBUG :MOUNT: Entry supports 1 different flavours handle=0x4301 for client ::ffff:10.77.0.101
`
const CONSOLE = `\x1bc\x1b[?7lSeaBIOS (version 1.16.2-debian-1.16.2-1)\r
Loading p\x1b[25;09H\x1b[25;10Hxeroot/debian-bookworm/1/vmlinuz... ok\r
[   35.123448] grep[236]: /etc/hostname:node02\r
[   35.167012] grep[236]: /etc/machine-id:9a42388b832c436cbcfa9d633a8a4815\r
[   35.167102] grep[236]: /etc/resolv.conf:# written by pxeroot\r
[   35.167113] grep[236]: /etc/resolv.conf:nameserver 10.77.0.1\r
[   35.167120] grep[236]: /etc/resolv.conf:nameserver 10.77.0.2\r
[   35.167131] grep[236]: /etc/resolv.conf:search lab.test example.org\r
\x1b[0;32m  OK  \x1b[0m] Reached target multi-user.target - Multi-User System.\r
\r
Debian GNU/Linux 12 node02 ttyS0\r
\r
node02 login: [   44.343538] clocksource: Long readout interval, skipping watchdog check`

describe('milestones from the server logs and the console', () => {
  it('reads leases by address and MAC, and mounts by client and path', () => {
    expect(dhcpdAcks(DHCPD)).toEqual([{ip: '10.77.0.101', mac: '52:54:00:4d:00:65'}, {ip: '10.77.0.100', mac: '52:54:00:aa:00:01'}])
    expect(mountsIn(GANESHA)).toEqual([
      {path: '/srv/nodes/node01', client: '10.77.0.100', ok: true},
      {path: '/srv/nodes/node02', client: '10.77.0.101', ok: true},
    ])
    const refused = mountsIn('x[svc_3] mnt_Mnt :NFS3 :DEBUG :REQUEST PROCESSING: Calling MNT_MNT path=/srv/nodes/node02\n'
      + 'x[svc_3] mnt_Mnt :NFS3 :INFO :MOUNT: Export entry /srv/nodes/node02 does not allow access for client 10.77.0.101\n')
    expect(refused).toEqual([{path: '/srv/nodes/node02', client: '10.77.0.101', ok: false, why: 'does not allow access'}])
  })

  it('finds the node\'s own name and machine-id on the console, through the escapes', () => {
    const text = plainConsole(CONSOLE)
    expect(text).toContain('Loading pxeroot/debian-bookworm/1/vmlinuz... ok')
    expect(identityIn(text)).toEqual({hostname: 'node02', machineId: '9a42388b832c436cbcfa9d633a8a4815', prompt: 'node02', nameservers: ['10.77.0.1', '10.77.0.2'], search: ['lab.test', 'example.org']})
    expect(identityIn('grep: /etc/resolv.conf: No such file or directory')).toMatchObject({nameservers: [], search: []})
    expect(fatalLine(text)).toBeUndefined()
  })

  it('counts a milestone only for this node: its MAC and address, its export, its own name on the prompt', () => {
    const reader = new PcapReader()
    const tracker = new TftpTracker(SERVER)
    for (const d of reader.push(bootCapture())) tracker.add(d)
    const evidence = {leases: dhcpdAcks(DHCPD), tftp: tracker, mounts: mountsIn(GANESHA), console: plainConsole(CONSOLE)}
    // The console has no IP-Config line (a quiet initramfs): the mount from the node's address shows it.
    expect([...reachedMilestones(TARGET, evidence)].sort()).toEqual(['config', 'ipconfig', 'lease', 'loader', 'login', 'nfsroot'])
    expect(whyMissing('kernel', TARGET, evidence)).toBe('pxeroot/debian-bookworm/1/vmlinuz was never requested')

    const impostor = {...evidence, console: evidence.console.replace('node02 login:', 'node01 login:'), leases: dhcpdAcks(DHCPD.replaceAll('10.77.0.101', '10.77.0.140'))}
    const got = reachedMilestones(TARGET, impostor)
    expect(got.has('login')).toBe(false)
    expect(got.has('lease')).toBe(false)
    expect(whyMissing('lease', TARGET, impostor)).toBe('got 10.77.0.140 instead of 10.77.0.101')
    expect(whyMissing('login', TARGET, impostor)).toBe('the login prompt says node01, not node02')
  })

  it('tells the firmware\'s address from the initramfs\'s, and names the lease the initramfs took instead', () => {
    // The console of issue 9 item 1 (iPXE, then klibc ipconfig without a client identifier).
    const text = plainConsole([
      'Configuring (net0 52:54:00:4d:00:65)...... ok', 'net0: 10.77.0.101/255.255.255.0', 'net0: fe80::5054:ff:fe4d:65/64',
      'PXELINUX 6.04 PXE 20200816 Copyright (C) 1994-2015 H. Peter Anvin et al',
      'IP-Config: ens3 hardware address 52:54:00:4d:00:65 mtu 1500 DHCP', 'IP-Config: no response after 2 secs - giving up',
      'IP-Config: ens3 complete (dhcp from 10.77.0.1):', ' address: 10.77.0.102    broadcast: 10.77.0.255    netmask: 255.255.255.0   ',
      'Begin: Retrying nfs mount ... mount call failed - server replied: Permission denied.', '',
    ].join('\r\n'))
    expect(addressesIn(text)).toEqual({firmware: '10.77.0.101', initramfs: '10.77.0.102'})
    const evidence = {leases: dhcpdAcks(`${DHCPD}DHCPACK on 10.77.0.102 to 52:54:00:4d:00:65 via br0\n`), tftp: new TftpTracker(SERVER), mounts: [], console: text}
    const got = reachedMilestones(TARGET, evidence)
    expect(got.has('lease')).toBe(true)
    expect(got.has('ipconfig')).toBe(false)
    expect(whyMissing('ipconfig', TARGET, evidence)).toBe('the initramfs got 10.77.0.102 instead of 10.77.0.101')
    // The NFS server will not relent: the boot is over at once, not at the timeout.
    expect(fatalLine(text)).toBe('mount call failed - server replied: Permission denied')
    expect(reachedMilestones(TARGET, {...evidence, console: text.replace('address: 10.77.0.102', 'address: 10.77.0.101')}).has('ipconfig')).toBe(true)
    // A firmware that says it got another address has not got the node's lease.
    expect(reachedMilestones(TARGET, {...evidence, console: text.replace('net0: 10.77.0.101/', 'net0: 10.77.0.140/')}).has('lease')).toBe(false)
    expect(whyMissing('lease', TARGET, {...evidence, console: 'net0: 10.77.0.140/255.255.255.0'})).toBe('the firmware got 10.77.0.140 instead of 10.77.0.101')
  })

  it('recognises the consoles of boots that will not get anywhere', () => {
    expect(fatalLine(plainConsole('PXELINUX 6.04 PXE\r\n\r\nFailed to load ldlinux.c32\r\nBoot failed: press a key'))).toBe('Failed to load ldlinux.c32')
    expect(fatalLine(plainConsole('Loading pxeroot/d/1/initrd-missing.img...failed: No such file or d\x1b[25;80H\r\nirectory\r\nboot: ')))
      .toBe('Loading pxeroot/d/1/initrd-missing.img...failed: No such file or d')
    expect(fatalLine('[    5.1] Kernel panic - not syncing: VFS: Unable to mount root fs')).toMatch(/^Kernel panic/)
    expect(fatalLine('nfsmount: bad NFS version \'4\'')).toMatch(/^nfsmount/)
    expect(fatalLine('No bootable device.')).toBe('No bootable device.')
  })
})

const SITE = parseSite('server: 10.77.0.1\nsubnet: 10.77.0.0/24\nnodes:\n  range: 10.77.0.100-10.77.0.150\n')
const NODES: BootNode[] = bootNodesFor(SITE, parseInventory('nodes:\n  - {name: node01, ip: 10.77.0.100, mac: "52:54:00:aa:00:01", image: debian-bookworm@1}\n  - {name: node02, ip: 10.77.0.101, image: debian-bookworm@1, kernelArgs: quiet}\n'))

describe('the lab\'s private copies of the generated configuration', () => {
  it('adds the serial console to the node\'s pxelinux entry and reads back the files it boots', () => {
    const rendered = renderPxelinuxNode(NODES[1])
    const copy = labPxelinux(rendered)
    const append = copy.split('\n').find((l) => l.trim().startsWith('APPEND'))!
    expect(append).toContain('nfsroot=10.77.0.1:/srv/nodes/node02,vers=3,tcp')
    expect(append.endsWith(LAB_KERNEL_ARGS)).toBe(true)
    expect(append).toContain('console=ttyS0')
    expect(copy.replace(` ${LAB_KERNEL_ARGS}`, '')).toBe(rendered)
    expect(bootFilesOf(rendered)).toEqual({kernel: NODES[1].kernel, initrd: NODES[1].initrd})
    expect(bootFilesOf('DEFAULT b\nLABEL a\n KERNEL a/vmlinuz\nLABEL b\n KERNEL b/vmlinuz\n INITRD b/initrd.img\n')).toEqual({kernel: 'b/vmlinuz', initrd: 'b/initrd.img'})
  })

  it('exports each root at its disk path under the host path the node mounts, to that node alone', () => {
    const conf = labGaneshaConfig(SERVER, '/tmp/lab/recovery', [{exportId: 101, rootPath: '/srv/nodes/node02', diskPath: '/tmp/root/srv/nodes/node02', client: VM}])
    expect(conf).toMatch(/Mount_Path_Pseudo = true;/)
    expect(conf).toContain('Path = "/tmp/root/srv/nodes/node02";')
    expect(conf).toContain('Pseudo = "/srv/nodes/node02";')
    expect(conf).toContain('CLIENT { Clients = 10.77.0.101; Access_Type = RW; Squash = No_Root_Squash; }')
    expect(conf).toMatch(/Access_Type = None;/)
  })

  it('gives address-bound nodes a MAC no inventory node has', () => {
    expect(labMac('10.77.0.101', new Set())).toBe('52:54:00:4d:00:65')
    expect(labMac('10.77.0.101', new Set(['52:54:00:4d:00:65']))).toBe('52:54:00:4e:00:65')
    const args = qemuArgs({name: 'node02', mac: '52:54:00:4d:00:65', tap: 'lab1', serialLog: '/tmp/l/s.log', capture: '/tmp/l/c.pcap', memoryMiB: 512, accel: 'tcg'})
    expect(args.join(' ')).toContain('-device e1000,netdev=port-nic,mac=52:54:00:4d:00:65')
    expect(args.join(' ')).toContain('user,id=ra0,ipv4=off,ipv6=on,restrict=on')
    expect(args.join(' ')).toContain('-boot n')
    expect(() => qemuArgs({name: 'x', mac: 'm', tap: 't', serialLog: '/tmp/a,b', capture: '/c', memoryMiB: 512, accel: 'tcg'})).toThrow(/comma/)
  })
})
