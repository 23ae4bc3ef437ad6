import {haSettings, type Site} from '../config/site.js'
import {header} from './header.js'

const q = (s: string) => JSON.stringify(s)

/** `server`, or the list of boot servers of a site with several. */
function serverLines(site: Site): string[] {
  if (!site.servers) {
    return ['# This server\'s address on the boot network: DHCP next-server, TFTP and NFS server.', `server: ${site.server}`]
  }
  return [
    '# The boot servers. Each renders its own share with "pxeroot apply --server NAME": nodes it answers',
    '# boot from it (next-server, boot URLs). With Kea the first two are the DHCP failover pair (dhcp.ha).',
    '# Per server: haAddress (where Kea\'s HA listener listens), interface (its boot network interface).',
    'servers:',
    ...site.servers.map((s) => `  - {name: ${s.name}, address: ${s.address}${s.haAddress ? `, haAddress: ${s.haAddress}` : ''}${s.interface ? `, interface: ${s.interface}` : ''}}`),
  ]
}

/** Kea's failover settings, for a site with several servers. */
function haLines(site: Site): string[] {
  if (!site.servers) return []
  const ha = haSettings(site)
  return [
    '  # Kea\'s HA hook between the first two servers (README "DHCP failover"); ISC and dnsmasq get none.',
    '  ha:',
    `    mode: ${ha.mode}   # hot-standby (the first answers, the second takes over) or load-balancing (both answer)`,
    `    port: ${ha.port}   # each server's HA listener (lease updates, heartbeats)`,
    `    heartbeatDelay: ${ha.heartbeatDelay}   # ms`,
    `    maxResponseDelay: ${ha.maxResponseDelay}   # ms without an answer before the partner is taken for down`,
    `    maxUnackedClients: ${ha.maxUnackedClients}   # 0: take over at once; N: only once N clients went unanswered too`,
  ]
}

/** The site file `pxeroot init` writes: every setting with a comment, ready for hand edits. */
export function renderSiteFile(site: Site): string {
  const lines = [
    header('#', 'pxeroot init', 'Edit freely, then run "pxeroot apply".'),
    ...serverLines(site),
    '# The boot network.',
    `subnet: ${site.subnet}`,
    site.router ? `router: ${site.router}` : '# router: 192.168.0.1',
    `dns: [${site.dns.join(', ')}]`,
    site.domain ? `domain: ${q(site.domain)}` : '# domain: example.com',
    '# Addresses for nodes, handed out in order by "nodes add" and "nodes clone". A node without a',
    '# MAC is bound by address: this range is DHCP\'s dynamic range, and whichever machine leases a',
    '# node\'s address boots that node\'s root (pxelinux per-IP file). Nodes with a MAC get a fixed',
    '# address, taken out of the dynamic range.',
    'nodes:',
    `  range: ${site.nodes.range}`,
    `  prefix: ${site.nodes.prefix}      # node names: prefix + number, zero-padded to width`,
    `  width: ${site.nodes.width}`,
    '# Optional dynamic pool for unknown machines; they get what boot.unknown says.',
    site.pool ? `pool: ${site.pool}` : '# pool: 192.168.0.220-192.168.0.240',
    'lease:',
    `  default: ${site.lease.default}   # seconds`,
    `  max: ${site.lease.max}`,
    'paths:',
    `  images: ${site.paths.images}   # golden image revisions`,
    `  nodes: ${site.paths.nodes}     # one writable root per node, exported over NFS`,
    `  tftp: ${site.paths.tftp}     # tftpd-hpa root: pxelinux.0, pxelinux.cfg/, kernels`,
    'backends:',
    `  dhcp: ${site.backends.dhcp}        # isc (ISC dhcpd), kea (Kea) or dnsmasq; README "DHCP backends" says how to switch`,
    `  nfs: ${site.backends.nfs}       # kernel (nfs-kernel-server) or ganesha (NFS-Ganesha)`,
    '# full: pxeroot\'s DHCP server hands out the addresses; proxy (dnsmasq only): the network\'s own',
    '# DHCP server does, pxeroot adds only the PXE answers, and every node must have a MAC.',
    'dhcp:',
    `  mode: ${site.dhcp.mode}`,
    site.dhcp.interface ? `  interface: ${site.dhcp.interface}   # the boot network's interface (Kea and dnsmasq serve only there)` : '  # interface: eth0   # the boot network\'s interface (required for Kea and dnsmasq)',
    ...haLines(site),
    'boot:',
    `  image: ${site.boot.image}   # image a node boots until it is cloned from a revision`,
    `  kernelArgs: ${q(site.boot.kernelArgs)}   # added to every node's kernel command line`,
    `  unknown: ${site.boot.unknown}      # machines no node is bound to: local (leave network boot for the local disk) or none`,
    `  firmware: [${site.boot.firmware.join(', ')}]   # bios (pxelinux.0), uefi (shim + GRUB, Secure Boot ready), or both`,
  `  transport: ${site.boot.transport}    # kernel and initrd over tftp (pxelinux) or http (iPXE + lighttpd; README "Boot over HTTP")`,
    `  httpPort: ${site.boot.httpPort}      # the web server's port when transport is http`,
    '# Extra shared exports, e.g. a data area for every node:',
    '#   - {path: /data, clients: 192.168.0.0/24, options: "rw,sync,no_root_squash,no_subtree_check"}',
    '# Optional sections (see README): clone {hostKeyTypes, nodeLocal, concurrency},',
    '# recipes {NAME: {extends, packages, components, mirror, postInstall, initramfsModules}},',
    '# images {debCache, minFreeMiB, minFreeInodes}, rollout {canary, wave, timeout, shutdownTimeout}.',
    site.exports.length === 0 ? 'exports: []' : 'exports:',
    ...site.exports.map((e) => `  - {path: ${e.path}, clients: ${e.clients}, options: ${q(e.options)}}`),
  ]
  return lines.join('\n') + '\n'
}
