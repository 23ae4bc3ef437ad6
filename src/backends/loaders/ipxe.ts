import {IPXE_BOOT_SCRIPT, IPXE_DEFAULT_SCRIPT, ipxeNodeFile, renderIpxeBoot, renderIpxeDefault, renderIpxeNode} from '../../render/loaders/ipxe.js'
import {type BootLoader} from '../types.js'

/** What firmware PXE loads over TFTP: iPXE for BIOS (through the NIC's UNDI driver)... */
export const IPXE_BIOS_FILE = 'undionly.kpxe'
/** ...and for UEFI without Secure Boot (through the firmware's SNP driver; Debian's build is unsigned). */
export const IPXE_UEFI_FILE = 'snponly.efi'

/**
 * iPXE from Debian's ipxe package: loaded over TFTP, it asks DHCP again, is recognised by its
 * user class and gets boot.ipxe's URL; from there scripts, kernel and initrd come over HTTP from
 * the web server, whose document root is the tftp root. One script per node (01-<mac> or its
 * address) and default.ipxe for machines no node is bound to when boot.unknown is "local".
 */
export const ipxe: BootLoader = {
  name: 'ipxe',
  label: 'iPXE (BIOS, UEFI without Secure Boot)',
  // UEFI machines keep shim + GRUB (Secure Boot); snponly.efi is published for sites that hand it out themselves.
  firmware: 'bios',
  bootFile: IPXE_BIOS_FILE,
  packages: ['ipxe'],
  programs: [
    {name: IPXE_BIOS_FILE, from: ['/usr/lib/ipxe/undionly.kpxe'], pkg: 'ipxe'},
    {name: IPXE_UEFI_FILE, from: ['/usr/lib/ipxe/snponly.efi'], pkg: 'ipxe'},
  ],
  files(model) {
    const {site} = model
    return [
      {path: IPXE_BOOT_SCRIPT, content: renderIpxeBoot(site)},
      ...(site.boot.unknown === 'local' ? [{path: IPXE_DEFAULT_SCRIPT, content: renderIpxeDefault()}] : []),
      ...model.nodes.map((node) => ({path: ipxeNodeFile(node), content: renderIpxeNode(site, node)})),
    ]
  },
  nodeFile: ipxeNodeFile,
}
