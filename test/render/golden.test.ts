import {promises as fs} from 'node:fs'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {dhcpBootFor} from '../../src/backends/registry.js'
import {bootNodesFor} from '../../src/boot/nodes.js'
import {hexIp, macFileName} from '../../src/config/address.js'
import {parseSite} from '../../src/config/site-file.js'
import {parseInventory} from '../../src/inventory/inventory.js'
import {renderDhcpdInclude, renderDhcpdMain} from '../../src/render/dhcp/isc.js'
import {renderKernelExports} from '../../src/render/nfs/exports.js'
import {renderGaneshaExports, renderGaneshaMain} from '../../src/render/nfs/ganesha.js'
import {ipxeBootUrl, ipxeNodeFile, renderIpxeBoot, renderIpxeDefault, renderIpxeNode} from '../../src/render/loaders/ipxe.js'
import {pxelinuxFileName, renderPxelinuxDefault, renderPxelinuxNode} from '../../src/render/loaders/pxelinux.js'
import {renderTftpdDefault} from '../../src/render/tftpd.js'
import {renderLighttpdDropIn} from '../../src/render/web/lighttpd.js'
import {FIXTURES} from '../support/tmp-root.js'

const GOLDEN = path.join(FIXTURES, 'golden/seed')

/** Compares with the checked-in expected file; UPDATE_GOLDEN=1 rewrites it (review the diff). */
async function expectGolden(name: string, actual: string): Promise<void> {
  const file = path.join(GOLDEN, name)
  if (process.env.UPDATE_GOLDEN) {
    await fs.mkdir(path.dirname(file), {recursive: true})
    await fs.writeFile(file, actual)
  }
  expect(actual).toBe(await fs.readFile(file, 'utf8'))
}

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

describe('boot over HTTP on the seed network (boot.transport: http)', () => {
  async function httpSeed(httpPort = 80) {
    const {site, inventory} = await seed()
    const http = {...site, boot: {...site.boot, transport: 'http' as const, httpPort}}
    return {site: http, nodes: bootNodesFor(http, inventory, {image: 'debian-bookworm', revision: 2})}
  }

  it('names node scripts by 01-<mac> or the dotted address, and leaves the port out of URLs only when it is 80', async () => {
    const {site, nodes} = await httpSeed()
    expect(nodes.map(ipxeNodeFile)).toEqual(['ipxe/nodes/192.168.0.201.ipxe', 'ipxe/nodes/192.168.0.202.ipxe', 'ipxe/nodes/01-52-54-00-ab-cd-ef.ipxe'])
    expect(ipxeBootUrl(site)).toBe('http://192.168.0.10/ipxe/boot.ipxe')
    expect(ipxeBootUrl({...site, boot: {...site.boot, httpPort: 8080}})).toBe('http://192.168.0.10:8080/ipxe/boot.ipxe')
  })

  it('iPXE scripts: boot.ipxe looks up by MAC, then address, then the default; a node fetches its revision over HTTP with the pxelinux command line', async () => {
    const {site, nodes} = await httpSeed()
    const [node01, node02, node03] = nodes
    const boot = renderIpxeBoot(site)
    expect(boot.split('\n')[0]).toBe('#!ipxe')
    expect(boot).toContain('imgfetch --name node http://192.168.0.10/ipxe/nodes/01-${mac:hexhyp}.ipxe || imgfetch --name node http://192.168.0.10/ipxe/nodes/${ip}.ipxe || imgfetch --name node http://192.168.0.10/ipxe/default.ipxe || goto unknown\nimgexec node\n')
    const text = renderIpxeNode(site, node01)
    expect(text).toContain('kernel http://192.168.0.10/pxeroot/debian-bookworm/2/vmlinuz initrd=initrd.img root=/dev/nfs nfsroot=192.168.0.10:/srv/nodes/node01,vers=3,tcp ip=dhcp rw BOOTIF=01-${mac:hexhyp}\n')
    expect(text).toContain('initrd http://192.168.0.10/pxeroot/debian-bookworm/2/initrd.img\nboot\n')
    // The same command line as the node's pxelinux entry, from the same boot model.
    expect(renderPxelinuxNode(node02)).toContain(`APPEND initrd=${node02.initrd} ${node02.cmdline}\n`)
    expect(renderIpxeNode(site, node02)).toContain(` initrd=initrd.img ${node02.cmdline} BOOTIF=`)
    expect(renderIpxeNode({...site, boot: {...site.boot, httpPort: 8080}}, node01)).toContain('initrd http://192.168.0.10:8080/pxeroot/')
    await expectGolden('ipxe/boot.ipxe', boot)
    await expectGolden('ipxe/default.ipxe', renderIpxeDefault())
    await expectGolden('ipxe/nodes/192.168.0.201.ipxe', text)
    await expectGolden('ipxe/nodes/01-52-54-00-ab-cd-ef.ipxe', renderIpxeNode(site, node03))
  })

  it('dhcpd include: iPXE clients (user class "iPXE") get the script URL, other BIOS clients undionly.kpxe', async () => {
    const {site, nodes} = await httpSeed()
    const text = renderDhcpdInclude({site, nodes, dhcpBoot: dhcpBootFor(site)})
    expect(text).toContain([
      '  if exists user-class and option user-class = "iPXE" {',
      '    filename "http://192.168.0.10/ipxe/boot.ipxe";',
      '  } elsif option pxeroot-arch = 00:07 or option pxeroot-arch = 00:09 {',
    ].join('\n'))
    expect(text).toContain('  } else {\n    filename "undionly.kpxe";\n  }\n')
    await expectGolden('pxeroot-http.conf', text)
  })

  it('lighttpd drop-in: the tftp root on the server address and port, to the boot subnet, only boot files, only GET/HEAD', async () => {
    const {site} = await httpSeed()
    const text = renderLighttpdDropIn(site)
    expect(text).toContain('server.document-root := "/var/lib/tftpboot"\nserver.bind := "192.168.0.10"\nserver.port := 80\n')
    expect(text).toContain('$HTTP["remoteip"] != "192.168.0.0/24" { url.access-deny = ("") }')
    expect(renderLighttpdDropIn({...site, boot: {...site.boot, httpPort: 8080}})).toContain('server.port := 8080\n')
    await expectGolden('lighttpd-pxeroot.conf', text)
  })
})
