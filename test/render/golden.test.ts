import {promises as fs} from 'node:fs'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {bootNodesFor} from '../../src/boot/nodes.js'
import {hexIp, macFileName} from '../../src/config/address.js'
import {parseSite} from '../../src/config/site-file.js'
import {parseInventory} from '../../src/inventory/inventory.js'
import {renderDhcpdInclude, renderDhcpdMain} from '../../src/render/dhcp/isc.js'
import {renderKernelExports} from '../../src/render/nfs/exports.js'
import {renderGaneshaExports, renderGaneshaMain} from '../../src/render/nfs/ganesha.js'
import {pxelinuxFileName, renderPxelinuxDefault, renderPxelinuxNode} from '../../src/render/loaders/pxelinux.js'
import {renderTftpdDefault} from '../../src/render/tftpd.js'
import {expectGolden} from '../support/golden-file.js'
import {FIXTURES} from '../support/tmp-root.js'

async function seed() {
  const site = parseSite(await fs.readFile(path.join(FIXTURES, 'seed-site.yaml'), 'utf8'))
  const inventory = parseInventory(await fs.readFile(path.join(FIXTURES, 'seed-nodes.yaml'), 'utf8'))
  return {site, inventory, nodes: bootNodesFor(site, inventory, {image: 'debian-bookworm', revision: 2})}
}

describe('renderers on the seed network (192.168.0.0/24, server 192.168.0.10)', () => {
  it('names pxelinux files as pxelinux looks for them: full uppercase hex IP, lowercase 01-mac', async () => {
    expect(hexIp('192.168.0.201')).toBe('C0A800C9')
    expect(hexIp('10.0.0.1')).toBe('0A000001')
    expect(macFileName('52:54:00:AB:CD:EF')).toBe('01-52-54-00-ab-cd-ef')
    const {nodes} = await seed()
    expect(nodes.map(pxelinuxFileName)).toEqual(['C0A800C9', 'C0A800CA', '01-52-54-00-ab-cd-ef'])
  })

  it('dhcpd include: subnet, next-server, BIOS boot file, dynamic range without the MAC-bound address', async () => {
    const {site, nodes} = await seed()
    const text = renderDhcpdInclude({site, nodes, dhcpBoot: {bios: 'pxelinux.0'}})
    expect(text).toContain('range 192.168.0.200 192.168.0.202;\n  range 192.168.0.204 192.168.0.210;')
    expect(text).toContain('host node03 { hardware ethernet 52:54:00:ab:cd:ef; fixed-address 192.168.0.203;')
    expect(text).toContain('next-server 192.168.0.10;')
    await expectGolden('pxeroot.conf', text)
    await expectGolden('dhcpd.conf', renderDhcpdMain(site, '/etc/dhcp/pxeroot.conf'))
  })

  it('kernel exports: each root to its node alone, with a stable fsid, never a space before "("', async () => {
    const {site, nodes} = await seed()
    const text = renderKernelExports(site, nodes)
    expect(text).toMatch(/^\/srv\/nodes\/node01 192\.168\.0\.201\(rw,sync,no_root_squash,no_subtree_check,fsid=[0-9a-f-]{36}\)$/m)
    expect(text).not.toMatch(/ \(/)
    expect(renderKernelExports(site, nodes)).toBe(text)
    await expectGolden('pxeroot.exports', text)
  })

  it('ganesha exports: one EXPORT per node with the node as its only client', async () => {
    const {site, nodes} = await seed()
    const text = renderGaneshaExports(site, nodes)
    expect(text.match(/EXPORT \{/g)).toHaveLength(4)
    expect(text).toContain('CLIENT { Clients = 192.168.0.203; Access_Type = RW; Squash = No_Root_Squash; }')
    await expectGolden('ganesha-pxeroot.conf', text)
    await expectGolden('ganesha.conf', renderGaneshaMain('/etc/ganesha/pxeroot.conf'))
  })

  it('pxelinux: node entries boot their revision over NFSv3 with IPAPPEND 2; default boots locally', async () => {
    const {site, nodes} = await seed()
    const [node01, node02, node03] = nodes
    const text = renderPxelinuxNode(node01)
    expect(text).toContain('KERNEL pxeroot/debian-bookworm/2/vmlinuz')
    expect(text).toContain('APPEND initrd=pxeroot/debian-bookworm/2/initrd.img root=/dev/nfs nfsroot=192.168.0.10:/srv/nodes/node01,vers=3,tcp ip=dhcp rw\n')
    expect(renderPxelinuxNode(node02)).toContain('KERNEL pxeroot/debian-bookworm/3/vmlinuz')
    expect(renderPxelinuxNode(node02)).toMatch(/ip=dhcp rw quiet\n/)
    await expectGolden('pxelinux.cfg/C0A800C9', text)
    await expectGolden('pxelinux.cfg/01-52-54-00-ab-cd-ef', renderPxelinuxNode(node03))
    await expectGolden('pxelinux.cfg/default', renderPxelinuxDefault())
    await expectGolden('tftpd-hpa', renderTftpdDefault(site))
  })
})
