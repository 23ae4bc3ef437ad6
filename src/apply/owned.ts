/** A file pxeroot wants on disk, by host path. */
export interface DesiredFile {
  path: string
  content: string | Buffer
  mode: number
  /** Which service must reload when it changes. */
  service?: Service
  /** A file pxeroot edits but does not own (dhcpd.conf's include line): never removed. */
  edited?: boolean
}

export type Service = 'dhcp' | 'nfs' | 'tftp'

export const OWNED_PATHS = {
  dhcpInclude: '/etc/dhcp/pxeroot.conf',
  dhcpMain: '/etc/dhcp/dhcpd.conf',
  kernelExports: '/etc/exports.d/pxeroot.exports',
  ganeshaExports: '/etc/ganesha/pxeroot.conf',
  ganeshaMain: '/etc/ganesha/ganesha.conf',
  tftpdDefault: '/etc/default/tftpd-hpa',
} as const

/** Where the syslinux packages install the BIOS network loader and its library (host paths,
 * read from the host itself: they are program files, not configuration). */
export const SYSLINUX_FILES = [
  {name: 'pxelinux.0', from: ['/usr/lib/PXELINUX/pxelinux.0', '/usr/share/syslinux/pxelinux.0'], pkg: 'pxelinux'},
  {name: 'ldlinux.c32', from: ['/usr/lib/syslinux/modules/bios/ldlinux.c32', '/usr/share/syslinux/ldlinux.c32'], pkg: 'syslinux-common'},
] as const
