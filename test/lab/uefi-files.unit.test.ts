/**
 * What the lab changes for a UEFI node, without root: its private copy of the node's GRUB file
 * (the generated file plus the lab's kernel arguments on the `linux` line, nothing else, diffed
 * line by line as delta.test.ts does for the daemons' files), the UEFI VM's qemu argv, and the
 * refusal when OVMF is missing. The real boot is test/lab/uefi.test.ts.
 */
import {describe, expect, it} from 'vitest'

import {bootNodesFor} from '../../src/boot/nodes.js'
import {parseSite} from '../../src/config/site-file.js'
import {PreconditionError} from '../../src/errors.js'
import {parseInventory} from '../../src/inventory/inventory.js'
import {grubBootFilesOf, labGrubArgs, labGrubNode} from '../../src/lab/grub.js'
import {labLoaderCopy, loaderCopySuffix} from '../../src/lab/loader-overlay.js'
import {qemuArgs} from '../../src/lab/qemu.js'
import {requireOvmf} from '../../src/lab/tools.js'
import {renderGrubNode} from '../../src/render/loaders/grub.js'
import {renderPxelinuxNode} from '../../src/render/loaders/pxelinux.js'
import {delta} from '../support/line-delta.js'

const SITE = parseSite('server: 10.77.0.1\nsubnet: 10.77.0.0/24\nnodes:\n  range: 10.77.0.100-10.77.0.150\nboot:\n  kernelArgs: quiet "pxeroot.note=two words"\n')
const NODES = bootNodesFor(SITE, parseInventory('nodes:\n  - {name: node01, ip: 10.77.0.100, mac: "52:54:00:aa:00:01", image: debian-bookworm@1}\n  - {name: node02, ip: 10.77.0.101, image: debian-bookworm@1}\n'))

describe('the lab\'s copy of a node\'s GRUB file', () => {
  it('adds the console and the identity unit to the `linux` line and changes nothing else', () => {
    for (const node of NODES) {
      const generated = renderGrubNode(node)
      const linux = generated.split('\n').find((l) => l.trimStart().startsWith('linux '))!
      expect(delta(generated, labGrubNode(generated)), node.name).toEqual({removed: [linux], added: [`${linux} ${labGrubArgs()}`]})
    }
  })

  it('passes the identity unit\'s quoted argument as one single-quoted GRUB word, which GRUB does not backslash-escape', () => {
    expect(labGrubArgs()).toBe('console=ttyS0,115200 no_timer_check systemd.unit=multi-user.target systemd.wants=kernel-command-line.service '
      + '\'systemd.run=/usr/bin/grep -H . /etc/hostname /etc/machine-id /etc/resolv.conf /proc/self/mounts\' systemd.run_success_action=none systemd.run_failure_action=none')
    expect(() => labGrubArgs('a="it\'s"')).toThrow(/cannot pass through GRUB unchanged/)
  })

  it('reads back the kernel and initrd the node\'s GRUB file loads, relative to the tftp root', () => {
    const [node] = NODES
    expect(grubBootFilesOf(renderGrubNode(node))).toEqual({kernel: node.kernel, initrd: node.initrd})
    expect(grubBootFilesOf('menuentry x {\n  linux \'/a/vmlinuz\' ro\n  initrd /a/initrd.img\n}\n')).toEqual({kernel: 'a/vmlinuz', initrd: 'a/initrd.img'})
  })

  it('picks the loader\'s file by the node\'s firmware', () => {
    const [node] = NODES
    const uefi = {uefi: {secondStage: 'grubx64.efi', menu: 'grub/grub.cfg'}}
    expect(labLoaderCopy(uefi, renderGrubNode(node))).toEqual({text: labGrubNode(renderGrubNode(node)), kernel: node.kernel, initrd: node.initrd})
    expect(labLoaderCopy({}, renderPxelinuxNode(node)).text).toContain('APPEND ')
    expect([loaderCopySuffix(uefi), loaderCopySuffix({})]).toEqual(['grub.cfg', 'pxelinux.cfg'])
  })
})

describe('a UEFI lab VM', () => {
  const vm = {name: 'node01', mac: '52:54:00:aa:00:01', tap: 'lab0', serialLog: '/tmp/l/node01.serial.log', capture: '/tmp/l/node01.pcap', memoryMiB: 512, accel: 'tcg' as const}

  it('runs OVMF\'s Secure Boot code read-only with its own variable store, PXE-booting OVMF\'s own network stack', () => {
    const args = qemuArgs({...vm, uefi: {code: '/usr/share/OVMF/OVMF_CODE_4M.ms.fd', vars: '/tmp/l/node01.vars.fd'}}).join(' ')
    expect(args).toContain('-machine q35,smm=on')
    expect(args).toContain('-global driver=cfi.pflash01,property=secure,value=on')
    expect(args).toContain('-drive if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.ms.fd')
    expect(args).toContain('-drive if=pflash,format=raw,unit=1,file=/tmp/l/node01.vars.fd')
    // No iPXE option ROM: OVMF would run it unverified, and shim cannot verify GRUB through it.
    expect(args).toContain('-device virtio-net-pci,romfile=,netdev=net0,mac=52:54:00:aa:00:01,bootindex=1')
    expect(args).toContain('tap,id=net0,ifname=lab0,script=no,downscript=no,vnet_hdr=off')
    expect(args).toContain('-serial file:/tmp/l/node01.serial.log')
    expect(args).not.toContain('e1000')
    expect(() => qemuArgs({...vm, uefi: {code: '/a,b', vars: '/v'}})).toThrow(/comma/)
  })

  it('is refused, naming the package, when OVMF is not installed', async () => {
    const missing = requireOvmf({code: '/nonexistent/OVMF_CODE_4M.ms.fd', vars: '/nonexistent/OVMF_VARS_4M.ms.fd'})
    await expect(missing).rejects.toThrow(PreconditionError)
    await expect(missing).rejects.toMatchObject({exitCode: 3, suggestion: 'apt-get install ovmf'})
  })
})
