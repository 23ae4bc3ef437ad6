import {PXELINUX_DIR, pxelinuxFileName, renderPxelinuxDefault, renderPxelinuxNode} from '../../render/loaders/pxelinux.js'
import {type BootLoader} from '../types.js'

export const PXELINUX_BOOT_FILE = 'pxelinux.0'

/**
 * pxelinux (BIOS): pxelinux.0 and ldlinux.c32 from the syslinux packages side by side, one file
 * per node under pxelinux.cfg/ (01-<mac> or the hex address), and `default` for machines no
 * node is bound to when boot.unknown is "local".
 */
export const pxelinux: BootLoader = {
  name: 'pxelinux',
  label: 'pxelinux (BIOS)',
  firmware: 'bios',
  bootFile: PXELINUX_BOOT_FILE,
  packages: ['pxelinux', 'syslinux-common'],
  programs: [
    {name: PXELINUX_BOOT_FILE, from: ['/usr/lib/PXELINUX/pxelinux.0', '/usr/share/syslinux/pxelinux.0'], pkg: 'pxelinux'},
    {name: 'ldlinux.c32', from: ['/usr/lib/syslinux/modules/bios/ldlinux.c32', '/usr/share/syslinux/ldlinux.c32'], pkg: 'syslinux-common'},
  ],
  files(model) {
    return [
      ...(model.site.boot.unknown === 'local' ? [{path: `${PXELINUX_DIR}/default`, content: renderPxelinuxDefault()}] : []),
      ...model.nodes.map((node) => ({path: `${PXELINUX_DIR}/${pxelinuxFileName(node)}`, content: renderPxelinuxNode(node)})),
    ]
  },
  nodeFile: (node) => `${PXELINUX_DIR}/${pxelinuxFileName(node)}`,
}
