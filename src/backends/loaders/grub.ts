import {GRUB_CFG, GRUB_NODES_DIR, grubNodeFileName, renderGrubCfg, renderGrubNode} from '../../render/loaders/grub.js'
import {type ShimSource} from '../../images/secure-boot.js'
import {type BootLoader} from '../types.js'

/** What DHCP hands x64 UEFI clients: shim, which then fetches grubx64.efi from its own directory. */
export const SHIM_BOOT_FILE = 'bootx64.efi'

/** The one name shim loads its second stage by, from the TFTP directory it came from. */
export const GRUB_SECOND_STAGE = 'grubx64.efi'

/** Debian's Microsoft-signed shim, as shim-signed installs it. Its vendor certificate (Debian's CA) is what
 * GRUB has shim check kernels against: image show and doctor check kernels against this same file. */
export const SHIM: ShimSource = {files: ['/usr/lib/shim/shimx64.efi.signed'], pkg: 'shim-signed'}

/**
 * shim + GRUB (x64 UEFI, Secure Boot or not): Debian's Microsoft-signed shim as bootx64.efi,
 * Debian's signed netboot GRUB beside it under the one name shim loads (grubx64.efi), then
 * grub/grub.cfg, which finds the booting machine's file under grub/nodes/ by MAC or address.
 * Copies, not links: tftpd-hpa runs --secure.
 */
export const grub: BootLoader = {
  name: 'grub',
  label: 'shim + GRUB (UEFI)',
  firmware: 'uefi',
  bootFile: SHIM_BOOT_FILE,
  packages: ['shim-signed', 'grub-efi-amd64-signed'],
  programs: [
    {name: SHIM_BOOT_FILE, from: SHIM.files, pkg: SHIM.pkg},
    // The netboot build: its built-in prefix is /grub on the TFTP server shim came from.
    {name: GRUB_SECOND_STAGE, from: ['/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed'], pkg: 'grub-efi-amd64-signed'},
  ],
  files(model) {
    return [
      {path: GRUB_CFG, content: renderGrubCfg(model.site)},
      ...model.nodes.map((node) => ({path: `${GRUB_NODES_DIR}/${grubNodeFileName(node)}`, content: renderGrubNode(node)})),
    ]
  },
  nodeFile: (node) => `${GRUB_NODES_DIR}/${grubNodeFileName(node)}`,
}
