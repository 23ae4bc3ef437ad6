import {type DhcpBoot} from '../boot/model.js'
import {type SiteModel} from '../config/site.js'
import {dnsmasqDhcp} from './dhcp/dnsmasq.js'
import {iscDhcpd} from './dhcp/isc.js'
import {keaDhcp} from './dhcp/kea.js'
import {PXELINUX_BOOT_FILE, pxelinux} from './loaders/pxelinux.js'
import {nfsGanesha} from './nfs/ganesha.js'
import {kernelNfs} from './nfs/kernel.js'
import {tftpdHpa} from './tftp/tftpd-hpa.js'
import {type BootLoader, type ServiceBackend} from './types.js'

/** Every backend of each kind, by the name the site file selects it with. */
export const DHCP_SERVERS: Record<SiteModel['backends']['dhcp'], ServiceBackend> = {isc: iscDhcpd, kea: keaDhcp, dnsmasq: dnsmasqDhcp}
export const NFS_SERVERS: Record<SiteModel['backends']['nfs'], ServiceBackend> = {kernel: kernelNfs, ganesha: nfsGanesha}
export const TFTP_SERVERS: Record<string, ServiceBackend> = {'tftpd-hpa': tftpdHpa}

const ALL: readonly ServiceBackend[] = [...Object.values(DHCP_SERVERS), ...Object.values(NFS_SERVERS), ...Object.values(TFTP_SERVERS)]

/** The daemons the site uses: one DHCP server, one NFS server, the TFTP server. */
export function activeServices(site: SiteModel): ServiceBackend[] {
  return [DHCP_SERVERS[site.backends.dhcp], NFS_SERVERS[site.backends.nfs], tftpdHpa]
}

/** The backends the site does not use, whose edits of admin files must be taken back. */
export function inactiveServices(site: SiteModel): ServiceBackend[] {
  const active = new Set(activeServices(site))
  return ALL.filter((b) => !active.has(b))
}

/** The backend that renders a host path, if any (a stale file's daemon must reload too). */
export function serviceOwning(path: string): ServiceBackend | undefined {
  return ALL.find((b) => b.paths.includes(path))
}

/** The boot loaders the site serves. */
export function loadersFor(_site: SiteModel): BootLoader[] {
  return [pxelinux]
}

/** The boot file DHCP hands each kind of client. */
export function dhcpBootFor(_site: SiteModel): DhcpBoot {
  return {bios: PXELINUX_BOOT_FILE}
}

/** The Debian packages the site's backends and loaders need (what init --install-packages installs). */
export function packagesFor(site: SiteModel): string[] {
  const pkgs = [...activeServices(site), ...loadersFor(site)].flatMap((b) => b.packages)
  return [...new Set([...pkgs, 'debootstrap', 'rsync'])]
}
