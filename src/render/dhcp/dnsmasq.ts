import {type BootModel} from '../../boot/model.js'
import {header} from '../header.js'
import {addressRanges, dhcpInterface, IPXE_USER_CLASS, macBoundNodes, UEFI_ARCHES} from './common.js'

/** dnsmasq's own state, apart from any dnsmasq a `dnsmasq` package may run for DNS. */
export const DNSMASQ_STATE = {
  leases: '/var/lib/misc/pxeroot-dnsmasq.leases',
  pid: '/run/pxeroot-dnsmasq.pid',
} as const

/** The tag dnsmasq sets for the machines in the hosts file (proxy mode answers only those). */
const NODE_TAG = 'node'

/** DHCP only: port=0 turns DNS off, so dnsmasq never reads, watches or takes over resolv.conf or /etc/hosts. */
function common(model: BootModel, hostsPath: string): string[] {
  return [
    'port=0',
    'no-resolv',
    'no-hosts',
    `interface=${dhcpInterface(model.site)}`,
    'bind-interfaces',
    `dhcp-leasefile=${DNSMASQ_STATE.leases}`,
    `pid-file=${DNSMASQ_STATE.pid}`,
    'log-dhcp',
    '# Nodes bound by MAC; reread on SIGHUP, so adding or removing a node needs no restart.',
    `dhcp-hostsfile=${hostsPath}`,
  ]
}

/** The boot file by client: iPXE by its user class, UEFI x64 by option 93 (7 or 9), else BIOS. */
function bootFiles(model: BootModel): string[] {
  const {site, dhcpBoot: {ipxe, uefi, bios}} = model
  const notIpxe = ipxe ? 'tag:!ipxe,' : ''
  return [
    '# The boot file by client: iPXE by its user class, UEFI x64 by option 93 (7 or 9), else BIOS.',
    ...(ipxe ? [`dhcp-userclass=set:ipxe,${IPXE_USER_CLASS}`] : []),
    ...UEFI_ARCHES.map((a) => `dhcp-match=set:uefi,option:client-arch,${a.code}`),
    ...(ipxe ? [`dhcp-boot=tag:ipxe,${ipxe}`] : []),
    ...(uefi ? [`dhcp-boot=${notIpxe}tag:uefi,${uefi},,${site.server}`] : []),
    `dhcp-boot=${notIpxe}tag:!uefi,${bios},,${site.server}`,
  ]
}

function fullMode(model: BootModel): string[] {
  const {site} = model
  const lease = site.lease.default
  return [
    'dhcp-authoritative',
    '# Leases are keyed on the MAC alone: PXE firmware sends a client identifier and the',
    '# initramfs does not, and both must get the same address.',
    'dhcp-ignore-clid',
    '# The boot file and server in their BOOTP fields, where PXE firmware, shim and GRUB read them.',
    'dhcp-no-override',
    '# Dynamic ranges. dnsmasq never offers a node\'s fixed address to another machine, so they are',
    '# not carved around the nodes: adding a node changes only the hosts file, which SIGHUP rereads.',
    '# lease.max has no dnsmasq equivalent: every lease lasts lease.default.',
    ...addressRanges(site).map((r) => `dhcp-range=${r.start},${r.end},${site.net.netmask},${lease}`),
    '# Fixed addresses anywhere in the subnet, for the nodes in the hosts file.',
    `dhcp-range=${site.net.network},static,${site.net.netmask},${lease}`,
    // An empty option is "do not send": without it dnsmasq names itself the router.
    site.router ? `dhcp-option=option:router,${site.router}` : '# No router: without this empty option dnsmasq would name itself.\ndhcp-option=option:router',
    ...(site.dns.length > 0 ? [`dhcp-option=option:dns-server,${site.dns.join(',')}`] : []),
    ...(site.domain ? [`dhcp-option=option:domain-name,${site.domain}`] : []),
    ...bootFiles(model),
  ]
}

/** Proxy DHCP: PXE answers only; router, DNS and lease settings are the network's server's business. */
function proxyMode(model: BootModel): string[] {
  const {site, dhcpBoot: {ipxe, uefi, bios}} = model
  const notIpxe = ipxe ? 'tag:!ipxe,' : ''
  return [
    `dhcp-range=${site.net.network},proxy,${site.net.netmask}`,
    '# Machines that are not nodes get no answer: other PXE services on the network are left alone.',
    `dhcp-ignore=tag:!${NODE_TAG}`,
    '# The boot file by client: iPXE by its user class, UEFI x64 by its architecture, else BIOS.',
    ...(ipxe ? [`dhcp-userclass=set:ipxe,${IPXE_USER_CLASS}`, `dhcp-boot=tag:ipxe,${ipxe}`] : []),
    `pxe-service=${notIpxe}x86PC,"pxeroot (BIOS)",${bios},${site.server}`,
    ...(uefi ? ['X86-64_EFI', 'BC_EFI'].map((csa) => `pxe-service=${notIpxe}${csa},"pxeroot (UEFI)",${uefi},${site.server}`) : []),
  ]
}

/** /etc/pxeroot/dnsmasq.conf: the whole configuration of pxeroot's own dnsmasq instance. */
export function renderDnsmasqMain(model: BootModel, hostsPath: string): string {
  const proxy = model.site.dhcp.mode === 'proxy'
  return [
    header('#'),
    proxy
      ? '# Proxy DHCP: the network\'s own DHCP server hands out addresses; this answers only the PXE\n# requests of pxeroot\'s nodes, telling them which boot file to fetch from this server.'
      : '# The boot network\'s DHCP server: addresses, options and boot files.',
    ...common(model, hostsPath),
    ...(proxy ? proxyMode(model) : fullMode(model)),
  ].join('\n') + '\n'
}

/** The hosts file: a fixed address and name per MAC-bound node, or in proxy mode just the node's MAC. */
export function renderDnsmasqHosts(model: BootModel): string {
  const proxy = model.site.dhcp.mode === 'proxy'
  const lines = macBoundNodes(model.nodes).map((n) => (proxy ? `${n.mac},set:${NODE_TAG}` : `${n.mac},${n.ip},${n.name}`))
  return [header('#'), ...lines].join('\n') + '\n'
}

/**
 * dnsmasq-base ships no unit; this one runs pxeroot's instance in the foreground, refuses to start
 * on a configuration `dnsmasq --test` rejects, and rereads the hosts file on reload (SIGHUP).
 */
export function renderDnsmasqUnit(mainPath: string): string {
  return [
    header('#'),
    '[Unit]',
    'Description=pxeroot DHCP server (dnsmasq, DNS off)',
    'Documentation=man:dnsmasq(8)',
    'Wants=network-online.target',
    'After=network-online.target',
    '',
    '[Service]',
    `ExecStartPre=/usr/sbin/dnsmasq --test -C ${mainPath}`,
    `ExecStart=/usr/sbin/dnsmasq -k -C ${mainPath}`,
    'ExecReload=/bin/kill -HUP $MAINPID',
    'Restart=on-failure',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
  ].join('\n') + '\n'
}
