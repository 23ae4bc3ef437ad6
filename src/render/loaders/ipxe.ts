import path from 'node:path'

import {type BootNode} from '../../boot/model.js'
import {macFileName} from '../../config/address.js'
import {type SiteModel} from '../../config/site.js'
import {header} from '../header.js'

/** The iPXE scripts, relative to the tftp root (which is also the web server's document root). */
export const IPXE_DIR = 'ipxe'
export const IPXE_BOOT_SCRIPT = `${IPXE_DIR}/boot.ipxe`
export const IPXE_DEFAULT_SCRIPT = `${IPXE_DIR}/default.ipxe`
const IPXE_NODES = `${IPXE_DIR}/nodes`

/** http://SERVER[:PORT]: the web server on the boot network, as nodes reach it. */
export function httpBase(site: Pick<SiteModel, 'server' | 'boot'>): string {
  return `http://${site.server}${site.boot.httpPort === 80 ? '' : `:${site.boot.httpPort}`}`
}

/** What DHCP hands a machine running iPXE: the script that picks its node. */
export function ipxeBootUrl(site: Pick<SiteModel, 'server' | 'boot'>): string {
  return `${httpBase(site)}/${IPXE_BOOT_SCRIPT}`
}

/**
 * The script a node is found by: 01-<mac> for MAC-bound nodes, as pxelinux names it; the dotted
 * address for nodes bound by address. Not pxelinux's uppercase hex: iPXE prints hex only in
 * lowercase (${ip:hexraw}) and URL paths are case-sensitive, while ${ip} is in every iPXE build.
 */
export function ipxeNodeFile(node: Pick<BootNode, 'ip' | 'mac'>): string {
  return `${IPXE_NODES}/${node.mac ? macFileName(node.mac) : node.ip}.ipxe`
}

/**
 * boot.ipxe: the node's script by MAC, else by address, else the one for unknown machines. Each
 * is fetched first and run after, so a node whose own boot fails stops there with iPXE's error
 * instead of falling through to the next lookup (and to the unknown machines' local disk).
 */
export function renderIpxeBoot(site: Pick<SiteModel, 'server' | 'boot'>): string {
  const base = httpBase(site)
  const lookups = [`${base}/${IPXE_NODES}/01-\${mac:hexhyp}.ipxe`, `${base}/${IPXE_NODES}/\${ip}.ipxe`, `${base}/${IPXE_DEFAULT_SCRIPT}`]
  return [
    '#!ipxe',
    header('#'),
    '# The node\'s script by MAC, else by address, else the one for unknown machines (boot.unknown).',
    `${lookups.map((url) => `imgfetch --name node ${url}`).join(' || ')} || goto unknown`,
    'imgexec node',
    ':unknown',
    `echo pxeroot: no boot script for \${mac} (\${ip}) at ${base}/${IPXE_DIR}/`,
    'exit 1',
  ].join('\n') + '\n'
}

/**
 * A node's script: kernel and initrd over HTTP, the same command line as its pxelinux entry.
 * `initrd=<name>` because in EFI mode the kernel's stub loads the initrd by the name iPXE gave
 * it (the last part of its URL); `BOOTIF` is what pxelinux's IPAPPEND 2 passes: the initramfs
 * configures the NIC the node booted from.
 */
export function renderIpxeNode(site: Pick<SiteModel, 'server' | 'boot'>, node: BootNode): string {
  const base = httpBase(site)
  return [
    '#!ipxe',
    header('#'),
    `# ${node.name}, bound by ${node.mac ? `MAC ${node.mac}` : `address ${node.ip}`}`,
    `kernel ${base}/${node.kernel} initrd=${path.posix.basename(node.initrd)} ${node.cmdline} BOOTIF=01-\${mac:hexhyp}`,
    `initrd ${base}/${node.initrd}`,
    'boot',
  ].join('\n') + '\n'
}

/** default.ipxe, for machines no node is bound to: back to the firmware, which boots its next device (the local disk). */
export function renderIpxeDefault(): string {
  return ['#!ipxe', header('#'), 'exit'].join('\n') + '\n'
}
