/**
 * What a node fetched, over TFTP (its capture) or over HTTP (the web server's access log): which
 * milestones that makes, why one is missing, and the kernel + initrd time both reports give.
 */
import {describe, expect, it} from 'vitest'

import {type LabFetch} from '../../src/backends/types.js'
import {bootNodesFor} from '../../src/boot/nodes.js'
import {parseSite} from '../../src/config/site-file.js'
import {parseInventory} from '../../src/inventory/inventory.js'
import {kernelInitrdSeconds} from '../../src/lab/fetched.js'
import {ipxeBootFilesOf, labIpxeScript} from '../../src/lab/ipxe.js'
import {type BootTarget, type Evidence, fatalLine, fetchSource, milestonesOf, reachedMilestones, whyMissing} from '../../src/lab/milestones.js'
import {PcapReader} from '../../src/lab/pcap.js'
import {LAB_KERNEL_ARGS} from '../../src/lab/pxelinux.js'
import {labReport} from '../../src/lab/report.js'
import {type LabNodeResult} from '../../src/lab/run.js'
import {TftpTracker} from '../../src/lab/tftp.js'
import {renderIpxeNode} from '../../src/render/loaders/ipxe.js'
import {pcap, tftp, udpFrame} from '../support/pcap-frames.js'

const SERVER = '10.77.0.1'
const VM = '10.77.0.100'
const KERNEL = 'pxeroot/debian-bookworm/1/vmlinuz'
const INITRD = 'pxeroot/debian-bookworm/1/initrd.img'
const T0 = 1_795_800_000_000

const HTTP_TARGET: BootTarget = {
  name: 'node01', ip: VM, mac: '52:54:00:aa:00:01', rootPath: '/srv/nodes/node01', transport: 'http',
  loader: 'ipxe/boot.ipxe', config: 'ipxe/nodes/01-52-54-00-aa-00-01.ipxe', kernel: KERNEL, initrd: INITRD,
  sizes: {[KERNEL]: 8_000_000, [INITRD]: 22_000_000},
}

const fetch = (path: string, status: number, bytes: number, began: number, ended: number, client = VM): LabFetch => ({client, path, status, bytes, began: T0 + began, ended: T0 + ended})

/** What lighttpd's log shows of one iPXE boot, and a neighbour's fetch of the same kernel. */
const HTTP_BOOT = [
  fetch('/ipxe/boot.ipxe', 200, 640, 0, 2),
  fetch('/ipxe/nodes/01-52-54-00-aa-00-01.ipxe', 200, 530, 40, 41),
  fetch(`/${KERNEL}`, 200, 8_000_000, 300, 1100),
  fetch(`/${INITRD}`, 200, 22_000_000, 1150, 2600),
  fetch(`/${KERNEL}`, 200, 8_000_000, 0, 900, '10.77.0.101'),
]

function evidence(http: LabFetch[]): Evidence {
  return {leases: [{ip: VM, mac: HTTP_TARGET.mac}], tftp: new TftpTracker(SERVER), http, mounts: [], console: 'net0: 10.77.0.100/255.255.255.0\n'}
}

describe('a boot over HTTP, from the web server\'s access log', () => {
  it('labels its milestones for iPXE and the web server', () => {
    expect(milestonesOf(HTTP_TARGET).map((m) => m.label)).toEqual(['DHCP lease', 'boot.ipxe (HTTP)', 'node script (HTTP)', 'kernel (HTTP)', 'initrd (HTTP)', 'initramfs lease', 'NFS root mounted', 'login prompt'])
    expect(milestonesOf({...HTTP_TARGET, loader: 'pxelinux.0', transport: 'tftp'}).map((m) => m.label).slice(1, 5)).toEqual(['TFTP pxelinux.0', 'pxelinux file', 'kernel', 'initrd'])
  })

  it('counts each file sent whole (200, every byte) to this node, and times kernel + initrd from the kernel\'s request to the initrd\'s end', () => {
    expect([...reachedMilestones(HTTP_TARGET, evidence(HTTP_BOOT))].sort()).toEqual(['config', 'initrd', 'kernel', 'lease', 'loader'])
    expect(kernelInitrdSeconds(fetchSource(HTTP_TARGET, evidence(HTTP_BOOT)), KERNEL, INITRD)).toBe(2.3)
  })

  it('says why a file is missing: never asked for, refused, or cut short', () => {
    const cut = evidence([...HTTP_BOOT.slice(0, 3), fetch(`/${INITRD}`, 200, 4_000_000, 1150, 1400)])
    expect(reachedMilestones(HTTP_TARGET, cut).has('initrd')).toBe(false)
    expect(whyMissing('initrd', HTTP_TARGET, cut)).toBe(`${INITRD}: 4000000 of 22000000 bytes sent`)
    expect(kernelInitrdSeconds(fetchSource(HTTP_TARGET, cut), KERNEL, INITRD)).toBeUndefined()
    const missing = evidence([HTTP_BOOT[0], fetch('/ipxe/nodes/01-52-54-00-aa-00-01.ipxe', 404, 341, 40, 41)])
    expect(whyMissing('config', HTTP_TARGET, missing)).toBe('ipxe/nodes/01-52-54-00-aa-00-01.ipxe: HTTP 404')
    // Another machine's fetch of the same kernel is not this node's.
    expect(whyMissing('kernel', HTTP_TARGET, evidence([HTTP_BOOT[4]]))).toBe(`${KERNEL} was never requested`)
  })

  it('stops at once when boot.ipxe finds no script for the machine', () => {
    expect(fatalLine('pxeroot: no boot script for 52:54:00:aa:00:09 (10.77.0.140) at http://10.77.0.1/ipxe/\nexit 1')).toBe('pxeroot: no boot script for 52:54:00:aa:00:09 (10.77.0.140) at http://10.77.0.1/ipxe/')
  })
})

describe('a boot over TFTP, timed from the capture', () => {
  it('times kernel + initrd from the kernel\'s request to the initrd\'s last block, as captured', () => {
    const tracker = new TftpTracker(SERVER)
    const frames = [
      udpFrame(VM, SERVER, 2000, 69, tftp.rrq(KERNEL, 'blksize', '1468')),
      udpFrame(SERVER, VM, 40000, 2000, tftp.data(1, 1468)),
      udpFrame(SERVER, VM, 40000, 2000, tftp.data(2, 100)),
      udpFrame(VM, SERVER, 2001, 69, tftp.rrq(INITRD, 'blksize', '1468')),
      udpFrame(SERVER, VM, 40001, 2001, tftp.data(1, 10)),
    ]
    const stamps = [T0 + 5000, T0 + 5001, T0 + 9000, T0 + 9010, T0 + 12_400]
    for (const d of new PcapReader().push(pcap(frames, (i) => stamps[i]))) tracker.add(d)
    const target: BootTarget = {...HTTP_TARGET, transport: 'tftp', loader: 'pxelinux.0', config: 'pxelinux.cfg/01-52-54-00-aa-00-01', sizes: undefined}
    const e: Evidence = {...evidence([]), tftp: tracker}
    expect(reachedMilestones(target, e).has('initrd')).toBe(true)
    expect(kernelInitrdSeconds(fetchSource(target, e), KERNEL, INITRD)).toBe(7.4)
  })
})

describe('the lab\'s copy of a node\'s iPXE script', () => {
  const site = parseSite('server: 10.77.0.1\nsubnet: 10.77.0.0/24\nnodes:\n  range: 10.77.0.100-10.77.0.150\nboot: {transport: http}\n')
  const [node] = bootNodesFor(site, parseInventory('nodes:\n  - {name: node01, ip: 10.77.0.100, mac: "52:54:00:aa:00:01", image: debian-bookworm@1}\n'))

  it('adds the lab\'s kernel arguments to its kernel line, nothing else, and reads back the files it boots', () => {
    const rendered = renderIpxeNode(site, node)
    const copy = labIpxeScript(rendered)
    const kernelLine = copy.split('\n').find((l) => l.startsWith('kernel '))!
    expect(kernelLine.endsWith(` ${LAB_KERNEL_ARGS}`)).toBe(true)
    expect(copy.replace(` ${LAB_KERNEL_ARGS}`, '')).toBe(rendered)
    expect(ipxeBootFilesOf(rendered)).toEqual({kernel: node.kernel, initrd: node.initrd})
  })
})

describe('the report', () => {
  it('gives each node\'s kernel + initrd time and how it came', () => {
    const node: LabNodeResult = {name: 'node01', ip: VM, mac: HTTP_TARGET.mac, boundBy: 'mac', config: HTTP_TARGET.config, passed: true, milestones: milestonesOf(HTTP_TARGET).map((m, i) => ({...m, seconds: i + 1})),
      addresses: {firmware: VM, initramfs: VM}, acks: [VM, VM], nameservers: [], search: [], seconds: 60, kernelInitrd: {over: 'http', seconds: 2.3}}
    const report = labReport({passed: true, accel: 'tcg', seconds: 70, nodes: [node]})
    expect(report).toContain('    4.0 s  kernel (HTTP)\n    5.0 s  initrd (HTTP)\n           kernel + initrd: 2.3 s over HTTP\n    6.0 s  initramfs lease\n')
  })
})
