import {type SiteModel} from '../../config/site.js'
import {header} from '../header.js'
import {type BootModel} from '../../boot/model.js'
import {dynamicRanges, UEFI_ARCHES} from './common.js'

/** The include file pxeroot owns under /etc/dhcp: the boot subnet and one host entry per MAC-bound node. */
export function renderDhcpdInclude(model: BootModel): string {
  const {site, nodes, dhcpBoot} = model
  const i = '  '
  const lines = [
    header('#'),
    '',
    '# DHCP option 93: the client\'s architecture, to hand each the boot file it can run.',
    'option pxeroot-arch code 93 = unsigned integer 16;',
    '',
    `subnet ${site.net.network} netmask ${site.net.netmask} {`,
    // One lease per machine, keyed on its MAC: the PXE firmware sends a client identifier and
    // the initramfs's DHCP client (klibc ipconfig) sends none, so with identifiers recorded the
    // initramfs would lease a second address, which the node's export does not admit.
    `${i}ignore-client-uids true;`,
    ...dynamicRanges(site, nodes).map((r) => `${i}range ${r.start} ${r.end};`),
    `${i}option subnet-mask ${site.net.netmask};`,
    `${i}option broadcast-address ${site.net.broadcast};`,
    ...(site.router ? [`${i}option routers ${site.router};`] : []),
    ...(site.dns.length > 0 ? [`${i}option domain-name-servers ${site.dns.join(', ')};`] : []),
    ...(site.domain ? [`${i}option domain-name "${site.domain}";`] : []),
    `${i}default-lease-time ${site.lease.default};`,
    `${i}max-lease-time ${site.lease.max};`,
    `${i}get-lease-hostnames on;`,
    `${i}use-host-decl-names on;`,
    `${i}next-server ${site.server};`,
    // iPXE, once loaded, asks again with user class "iPXE": its script URL, not iPXE a second time.
    ...(dhcpBoot.ipxe ? [`${i}if exists user-class and option user-class = "iPXE" {`, `${i}${i}filename "${dhcpBoot.ipxe}";`] : []),
    `${i}${dhcpBoot.ipxe ? '} elsif' : 'if'} ${UEFI_ARCHES.map((a) => `option pxeroot-arch = ${a.hex.replace(/^(..)(..)$/, '$1:$2')}`).join(' or ')} {`,
    dhcpBoot.uefi ? `${i}${i}filename "${dhcpBoot.uefi}";` : `${i}${i}# UEFI clients: no boot file (boot.firmware has no uefi).`,
    `${i}} else {`,
    dhcpBoot.bios ? `${i}${i}filename "${dhcpBoot.bios}";` : `${i}${i}# BIOS clients: no boot file (boot.firmware has no bios).`,
    `${i}}`,
    '}',
  ]
  const bound = nodes.filter((n) => n.mac)
  if (bound.length > 0) lines.push('', '# Nodes bound by MAC: a fixed address outside the dynamic ranges.')
  for (const node of bound) {
    lines.push(`host ${node.name} { hardware ethernet ${node.mac}; fixed-address ${node.ip}; option host-name "${node.name}"; }`)
  }
  return lines.join('\n') + '\n'
}

export function dhcpdIncludeLine(includePath: string): string {
  return `include "${includePath}";`
}

/** A minimal dhcpd.conf with the seed's global options, for a server that has none. */
export function renderDhcpdMain(site: SiteModel, includePath: string): string {
  return [
    header('#', 'pxeroot', 'Yours to edit: pxeroot only keeps the include line below.'),
    'ddns-update-style none;',
    ...(site.domain ? [`option domain-name "${site.domain}";`] : []),
    ...(site.dns.length > 0 ? [`option domain-name-servers ${site.dns.join(', ')};`] : []),
    `default-lease-time ${site.lease.default};`,
    `max-lease-time ${site.lease.max};`,
    'authoritative;',
    'log-facility local7;',
    'allow booting;',
    'allow bootp;',
    '',
    dhcpdIncludeLine(includePath),
  ].join('\n') + '\n'
}

