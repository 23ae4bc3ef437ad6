import {type DhcpBoot} from '../boot/model.js'
import {type SiteModel} from '../config/site.js'
import {ipxeBootUrl} from '../render/loaders/ipxe.js'
import {iscDhcpd} from './dhcp/isc.js'
import {IPXE_BIOS_FILE, ipxe} from './loaders/ipxe.js'
import {PXELINUX_BOOT_FILE, pxelinux} from './loaders/pxelinux.js'
import {nfsGanesha} from './nfs/ganesha.js'
import {kernelNfs} from './nfs/kernel.js'
import {tftpdHpa} from './tftp/tftpd-hpa.js'
import {type BootLoader, type ServiceBackend} from './types.js'
import {lighttpd} from './web/lighttpd.js'

/** Every backend of each kind, by the name the site file selects it with. */
export const DHCP_SERVERS: Record<SiteModel['backends']['dhcp'], ServiceBackend> = {isc: iscDhcpd}
export const NFS_SERVERS: Record<SiteModel['backends']['nfs'], ServiceBackend> = {kernel: kernelNfs, ganesha: nfsGanesha}
export const TFTP_SERVERS: Record<string, ServiceBackend> = {'tftpd-hpa': tftpdHpa}
export const WEB_SERVERS: Record<string, ServiceBackend> = {lighttpd}

const ALL: readonly ServiceBackend[] = [...Object.values(DHCP_SERVERS), ...Object.values(NFS_SERVERS), ...Object.values(TFTP_SERVERS), ...Object.values(WEB_SERVERS)]

/** The daemons the site uses: one DHCP server, one NFS server, the TFTP server, and the web server when boot.transport is http. */
export function activeServices(site: SiteModel): ServiceBackend[] {
  return [DHCP_SERVERS[site.backends.dhcp], NFS_SERVERS[site.backends.nfs], tftpdHpa, ...(site.boot.transport === 'http' ? [lighttpd] : [])]
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

/** The boot loaders the site serves: with transport http, iPXE takes pxelinux's place. */
export function loadersFor(site: SiteModel): BootLoader[] {
  return [site.boot.transport === 'http' ? ipxe : pxelinux]
}

/** The boot file DHCP hands each kind of client; with transport http, iPXE's script URL ends the chain. */
export function dhcpBootFor(site: SiteModel): DhcpBoot {
  if (site.boot.transport === 'http') return {bios: IPXE_BIOS_FILE, ipxeScript: ipxeBootUrl(site)}
  return {bios: PXELINUX_BOOT_FILE}
}

/** The Debian packages the site's backends and loaders need (what init --install-packages installs). */
export function packagesFor(site: SiteModel): string[] {
  const pkgs = [...activeServices(site), ...loadersFor(site)].flatMap((b) => b.packages)
  return [...new Set([...pkgs, 'debootstrap', 'rsync'])]
}
