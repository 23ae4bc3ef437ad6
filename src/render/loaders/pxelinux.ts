import {hexIp, macFileName} from '../../config/address.js'
import {header} from '../header.js'
import {type BootNode} from '../../boot/model.js'

export const PXELINUX_DIR = 'pxelinux.cfg'

/**
 * The pxelinux.cfg file a node is found by: lowercase 01-<mac> for MAC-bound nodes, the full
 * uppercase hex address for nodes bound by address. Never a shortened hex prefix: pxelinux would
 * match it for a whole block of addresses.
 */
export function pxelinuxFileName(node: Pick<BootNode, 'ip' | 'mac'>): string {
  return node.mac ? macFileName(node.mac) : hexIp(node.ip)
}

/** A node's entry: its kernel, and its initrd and command line from the boot model. */
export function renderPxelinuxNode(node: BootNode): string {
  const args = `initrd=${node.initrd} ${node.cmdline}`
  return [
    header('#'),
    `DEFAULT ${node.name}`,
    'PROMPT 0',
    'TIMEOUT 0',
    `LABEL ${node.name}`,
    `  KERNEL ${node.kernel}`,
    `  APPEND ${args}`,
    // BOOTIF=01-<mac>: the initramfs configures the NIC the node PXE-booted from.
    '  IPAPPEND 2',
  ].join('\n') + '\n'
}

/** pxelinux.cfg/default, for machines no node is bound to: boot the local disk. */
export function renderPxelinuxDefault(): string {
  return [
    header('#'),
    'DEFAULT local',
    'PROMPT 0',
    'TIMEOUT 0',
    'LABEL local',
    '  LOCALBOOT 0',
  ].join('\n') + '\n'
}
