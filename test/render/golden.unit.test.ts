import {promises as fs} from 'node:fs'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {grub} from '../../src/backends/loaders/grub.js'
import {dhcpBootFor, loadersFor, packagesFor} from '../../src/backends/registry.js'
import {bootNodesFor} from '../../src/boot/nodes.js'
import {hexIp, macFileName} from '../../src/config/address.js'
import {parseSite} from '../../src/config/site-file.js'
import {type SiteModel} from '../../src/config/site.js'
import {parseInventory} from '../../src/inventory/inventory.js'
import {renderDhcpdInclude, renderDhcpdMain} from '../../src/render/dhcp/isc.js'
import {renderKernelExports} from '../../src/render/nfs/exports.js'
import {renderGaneshaExports, renderGaneshaMain} from '../../src/render/nfs/ganesha.js'
import {ipxeBootUrl, ipxeNodeFile, renderIpxeBoot, renderIpxeDefault, renderIpxeNode} from '../../src/render/loaders/ipxe.js'
import {renderGrubCfg, renderGrubNode} from '../../src/render/loaders/grub.js'
import {pxelinuxFileName, renderPxelinuxDefault, renderPxelinuxNode} from '../../src/render/loaders/pxelinux.js'
import {renderTftpdDefault} from '../../src/render/tftpd.js'
import {renderLighttpdDropIn} from '../../src/render/web/lighttpd.js'
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

  it('dhcpd include: subnet, next-server, boot file per firmware, dynamic range without the MAC-bound address', async () => {
    const {site, nodes} = await seed()
    const text = renderDhcpdInclude({site, nodes, dhcpBoot: dhcpBootFor(site)})
    // Option 93: 7 and 9 (both, per the RFC 4578 errata) get shim, every other client pxelinux.
    expect(text).toContain('if option pxeroot-arch = 00:07 or option pxeroot-arch = 00:09 {\n    filename "bootx64.efi";\n  } else {\n    filename "pxelinux.0";\n  }')
    expect(text).toContain('range 192.168.0.200 192.168.0.202;\n  range 192.168.0.204 192.168.0.210;')
    expect(text).toContain('host node03 { hardware ethernet 52:54:00:ab:cd:ef; fixed-address 192.168.0.203;')
    expect(text).toContain('next-server 192.168.0.10;')
    // Leases keyed on the MAC alone, in the boot subnet: the firmware (client identifier) and the
    // initramfs (none) get one address. The lab boot proves it on a VM.
    expect(text).toMatch(/^subnet 192\.168\.0\.0 netmask 255\.255\.255\.0 \{\n {2}ignore-client-uids true;$/m)
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
    expect(text).toContain('APPEND initrd=pxeroot/debian-bookworm/2/initrd.img root=/dev/nfs nfsroot=192.168.0.10:/srv/nodes/node01,vers=3,tcp ip=dhcp rw pxeroot.revision=debian-bookworm@2\n')
    expect(renderPxelinuxNode(node02)).toContain('KERNEL pxeroot/debian-bookworm/3/vmlinuz')
    expect(renderPxelinuxNode(node02)).toMatch(/ip=dhcp rw pxeroot.revision=debian-bookworm@3 quiet\n/)
    await expectGolden('pxelinux.cfg/C0A800C9', text)
    await expectGolden('pxelinux.cfg/01-52-54-00-ab-cd-ef', renderPxelinuxNode(node03))
    await expectGolden('pxelinux.cfg/default', renderPxelinuxDefault())
    await expectGolden('tftpd-hpa', renderTftpdDefault(site))
  })

  it('GRUB: one file per node under grub/nodes/, named as pxelinux names its files', async () => {
    const {nodes} = await seed()
    expect(nodes.map((n) => grub.nodeFile(n))).toEqual(['grub/nodes/C0A800C9.cfg', 'grub/nodes/C0A800CA.cfg', 'grub/nodes/01-52-54-00-ab-cd-ef.cfg'])
    const [node01, , node03] = nodes
    await expectGolden('grub/nodes/C0A800C9.cfg', renderGrubNode(node01))
    await expectGolden('grub/nodes/01-52-54-00-ab-cd-ef.cfg', renderGrubNode(node03))
  })

  it('one boot model, two renderers: the kernel gets the same kernel, initrd and parameters from pxelinux and GRUB', async () => {
    const {site, inventory} = await seed()
    // Arguments GRUB's parser and its command-line builder would otherwise change: a quoted value with a space, a $ and a ;.
    const odd = {...inventory, nodes: [...inventory.nodes, {name: 'node04', ip: '192.168.0.204', kernelArgs: 'note="a b" "x=c d" y=$z;w'}]}
    for (const node of bootNodesFor(site, odd, {image: 'debian-bookworm', revision: 2})) {
      const pxe = renderPxelinuxNode(node)
      const kernel = /^ {2}KERNEL (.*)$/m.exec(pxe)![1]
      const append = /^ {2}APPEND (.*)$/m.exec(pxe)![1]
      const entry = renderGrubNode(node)
      const [linuxPath, ...linuxArgs] = grubWords(/^ {2}linux (.*)$/m.exec(entry)![1])
      expect(linuxPath).toBe(`/${kernel}`)
      expect(append).toMatch(new RegExp(`^initrd=${/^ {2}initrd \/(.*)$/m.exec(entry)![1]} `))
      // IPAPPEND 2 adds BOOTIF=01-<mac of the booting NIC>; GRUB gets it from grub.cfg.
      expect(linuxArgs.at(-1)).toBe('BOOTIF=${pxeroot_bootif}')
      expect(pxe).toContain('IPAPPEND 2')
      expect(kernelParams(grubCmdline(linuxArgs.slice(0, -1)))).toEqual(kernelParams(append.replace(/^initrd=\S+ /, '')))
    }
    expect(kernelParams(grubCmdline(grubWords(/^ {2}linux \S+ (.*)$/m.exec(renderGrubNode(bootNodesFor(site, odd)[3]))![1])))).toContainEqual(['note', 'a b'])
    // A quote GRUB would escape on its way to the kernel is refused, naming the node and the argument.
    const quote = {...inventory, nodes: [{name: 'node05', ip: '192.168.0.205', kernelArgs: 'msg=it\'s'}]}
    expect(() => renderGrubNode(bootNodesFor(site, quote)[0])).toThrow(/^node05: the kernel argument msg=it's would reach the kernel changed through GRUB/)
  })

  it('grub.cfg: finds the node by MAC, then by hex address through a lookup that maps every octet as hexIp does', async () => {
    const {site} = await seed()
    const cfg = renderGrubCfg(site)
    expect(cfg).toContain('source "$prefix/nodes/${pxeroot_bootif}.cfg"')
    expect(cfg).toContain('source "$prefix/nodes/${pxeroot_h1}${pxeroot_h2}${pxeroot_h3}${pxeroot_h4}.cfg"')
    // The table as GRUB builds it: each line appends to pxeroot_hex.
    const table = [...cfg.matchAll(/^ {2}set pxeroot_hex="(?:\$\{pxeroot_hex\})?(.*)"$/gm)].map((m) => m[1]).join('')
    const lookup = (octet: number) => new RegExp(` ${octet}=([0-9A-F][0-9A-F])`).exec(table)?.[1]
    for (let n = 0; n < 256; n++) expect(lookup(n)).toBe(hexIp(`0.0.0.${n}`).slice(6))
    expect(['192.168.0.201', '10.0.0.1'].map((ip) => ip.split('.').map((o) => lookup(Number(o))).join(''))).toEqual(['C0A800C9', '0A000001'])
    // boot.unknown: local leaves GRUB for the firmware's next boot option; none adds no entry at all.
    expect(cfg).toMatch(/if \[ -z "\$pxeroot_node" \]; then\n {2}echo .*\n {2}exit\nfi\n$/)
    expect(renderGrubCfg({boot: {...site.boot, unknown: 'none'}})).not.toMatch(/^\s*(exit|menuentry)/m)
    await expectGolden('grub/grub.cfg', cfg)
  })

  it('boot.firmware picks the loaders and what DHCP hands each firmware', async () => {
    const {site, nodes} = await seed()
    const only = (firmware: SiteModel['boot']['firmware']) => ({...site, boot: {...site.boot, firmware}})
    expect(site.boot.firmware).toEqual(['bios', 'uefi'])
    expect(dhcpBootFor(site)).toEqual({bios: 'pxelinux.0', uefi: 'bootx64.efi'})
    expect(loadersFor(only(['bios'])).map((l) => l.name)).toEqual(['pxelinux'])
    expect(loadersFor(only(['uefi'])).map((l) => l.name)).toEqual(['grub'])
    const biosOnly = renderDhcpdInclude({site: only(['bios']), nodes, dhcpBoot: dhcpBootFor(only(['bios']))})
    expect(biosOnly).not.toContain('bootx64.efi')
    expect(biosOnly).toContain('filename "pxelinux.0";')
    const uefiOnly = renderDhcpdInclude({site: only(['uefi']), nodes, dhcpBoot: dhcpBootFor(only(['uefi']))})
    expect(uefiOnly).not.toContain('pxelinux.0')
    expect(packagesFor(site)).toEqual(expect.arrayContaining(['shim-signed', 'grub-efi-amd64-signed', 'sbsigntool', 'kmod', 'pxelinux']))
    expect(packagesFor(only(['bios']))).not.toContain('shim-signed')
  })
})

/** What GRUB's `linux` passes the kernel for its words (grub_create_loader_cmdline): \\, ' and " escaped, a word with a space double-quoted. */
function grubCmdline(words: string[]): string {
  return words.map((w) => {
    const escaped = w.replaceAll(/[\\'"]/g, (c) => `\\${c}`)
    return w.includes(' ') ? `"${escaped}"` : escaped
  }).join(' ')
}

/** The (parameter, value) pairs the kernel parses from a command line, as kernel/params.c next_arg does. */
function kernelParams(cmdline: string): [string, string | null][] {
  const out: [string, string | null][] = []
  let args = cmdline.trimStart()
  while (args) {
    let inQuote = false
    let quoted = false
    if (args[0] === '"') {
      args = args.slice(1)
      inQuote = quoted = true
    }
    let i = 0
    let equals = 0
    for (; i < args.length; i++) {
      if (/\s/.test(args[i]) && !inQuote) break
      if (equals === 0 && args[i] === '=') equals = i
      if (args[i] === '"') inQuote = !inQuote
    }
    const word = args.slice(0, i)
    let param = equals ? word.slice(0, equals) : word
    let value = equals ? word.slice(equals + 1) : null
    let stripLast = quoted && word.endsWith('"')
    if (value?.startsWith('"')) {
      value = value.slice(1)
      stripLast ||= word.endsWith('"')
    }
    if (stripLast) {
      if (value === null) param = param.slice(0, -1)
      else value = value.slice(0, -1)
    }
    out.push([param, value])
    args = args.slice(i).trimStart()
  }
  return out
}

/** Splits a GRUB command line into words as GRUB's parser does for plain and single-quoted words. */
function grubWords(line: string): string[] {
  const words: string[] = []
  for (const m of line.matchAll(/(?:'[^']*'|\\.|[^\s'\\])+/g)) {
    words.push(m[0].replaceAll(/'([^']*)'|\\(.)/g, (_, quoted: string | undefined, escaped: string | undefined) => quoted ?? escaped ?? ''))
  }
  return words
}
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
    expect(text).toContain('kernel http://192.168.0.10/pxeroot/debian-bookworm/2/vmlinuz initrd=initrd.img root=/dev/nfs nfsroot=192.168.0.10:/srv/nodes/node01,vers=3,tcp ip=dhcp rw pxeroot.revision=debian-bookworm@2 BOOTIF=01-${mac:hexhyp}\n')
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
