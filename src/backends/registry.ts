import {type DhcpBoot} from '../boot/model.js'
import {servesDhcp} from '../config/servers.js'
import {type SiteModel} from '../config/site.js'
import {RBD_PACKAGES} from '../storage/rbd/names.js'
import {ipxeBootUrl} from '../render/loaders/ipxe.js'
import {dnsmasqDhcp} from './dhcp/dnsmasq.js'
import {iscDhcpd} from './dhcp/isc.js'
import {SECURE_BOOT_TOOLS} from '../images/secure-boot.js'
import {keaDhcp} from './dhcp/kea.js'
import {grub} from './loaders/grub.js'
import {ipxe} from './loaders/ipxe.js'
import {pxelinux} from './loaders/pxelinux.js'
import {nfsGanesha} from './nfs/ganesha.js'
import {kernelNfs} from './nfs/kernel.js'
import {tftpdHpa} from './tftp/tftpd-hpa.js'
import {type BootLoader, type ServiceBackend} from './types.js'
import {lighttpd} from './web/lighttpd.js'

/** Every backend of each kind, by the name the site file selects it with. */
export const DHCP_SERVERS: Record<SiteModel['backends']['dhcp'], ServiceBackend> = {isc: iscDhcpd, kea: keaDhcp, dnsmasq: dnsmasqDhcp}
export const NFS_SERVERS: Record<SiteModel['backends']['nfs'], ServiceBackend> = {kernel: kernelNfs, ganesha: nfsGanesha}
export const TFTP_SERVERS: Record<string, ServiceBackend> = {'tftpd-hpa': tftpdHpa}
export const WEB_SERVERS: Record<string, ServiceBackend> = {lighttpd}

const ALL: readonly ServiceBackend[] = [...Object.values(DHCP_SERVERS), ...Object.values(NFS_SERVERS), ...Object.values(TFTP_SERVERS), ...Object.values(WEB_SERVERS)]

/**
 * The daemons the site uses: one DHCP server, one NFS server, the TFTP server, and the web server
 * when boot.transport is http. On a site with several servers whose DHCP server has no failover
 * (ISC, dnsmasq), only the first runs it (config/servers.ts: servesDhcp).
 */
export function activeServices(site: SiteModel): ServiceBackend[] {
  const dhcp = servesDhcp(site) ? [DHCP_SERVERS[site.backends.dhcp]] : []
  return [...dhcp, NFS_SERVERS[site.backends.nfs], tftpdHpa, ...(site.boot.transport === 'http' ? [lighttpd] : [])]
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

/** Every boot loader. BIOS machines get pxelinux, or iPXE with boot.transport http; UEFI machines shim + GRUB. */
export const LOADERS: readonly BootLoader[] = [pxelinux, ipxe, grub]

/** The boot loaders the site serves: one for each firmware in boot.firmware; with transport http, iPXE takes pxelinux's place. */
export function loadersFor(site: SiteModel): BootLoader[] {
  const bios = site.boot.transport === 'http' ? ipxe : pxelinux
  return [bios, grub].filter((l) => site.boot.firmware.includes(l.firmware))
}

/** The boot file DHCP hands each kind of client (option 93 tells them apart); with transport http, iPXE's script URL ends the chain. */
export function dhcpBootFor(site: SiteModel): DhcpBoot {
  const boot: DhcpBoot = Object.fromEntries(loadersFor(site).map((l) => [l.firmware, l.bootFile]))
  if (site.boot.transport === 'http') boot.ipxe = ipxeBootUrl(site)
  return boot
}

/** The Debian packages the site's backends and loaders need (what init --install-packages installs). */
export function packagesFor(site: SiteModel): string[] {
  const pkgs = [...activeServices(site), ...loadersFor(site)].flatMap((b) => b.packages)
  // UEFI nodes may run Secure Boot: image show and doctor check kernel and module signatures.
  const checks = site.boot.firmware.includes('uefi') ? Object.values(SECURE_BOOT_TOOLS) : []
  const storage = site.storage.backend === 'rbd' ? RBD_PACKAGES : []
  return [...new Set([...pkgs, ...checks, ...storage, 'debootstrap', 'rsync'])]
}
