import {carveRange, type AddressRange} from '../../config/address.js'
import {type SiteModel} from '../../config/site.js'
import {type BootNode} from '../../boot/model.js'

/**
 * DHCP option 93 (client system architecture, RFC 4578) values that mean x64 UEFI. Both, as
 * LTSP, DRBL and xCAT match them: the RFC's errata swapped 7 (x64) and 9 (EBC), and firmware
 * in the field sends either.
 */
export const UEFI_ARCHES = [
  {code: 7, hex: '0007', label: 'x64 UEFI'},
  {code: 9, hex: '0009', label: 'x64 UEFI (EBC id)'},
] as const

/** DHCP option 77 (user class) as iPXE sends it, so a chainloaded iPXE is not handed iPXE again. */
export const IPXE_USER_CLASS = 'iPXE'

/** The dynamic ranges of servers that would hand a reserved address out: the node range without MAC-bound nodes' fixed addresses, plus the pool. */
export function dynamicRanges(site: SiteModel, nodes: readonly BootNode[]): AddressRange[] {
  const fixed = nodes.filter((n) => n.mac).map((n) => n.ip)
  return [...carveRange(site.nodeRange, fixed), ...(site.poolRange ? [site.poolRange] : [])]
}

/** The node range and the pool as they are, for a server that never offers a reserved address to another client (dnsmasq). */
export function addressRanges(site: SiteModel): AddressRange[] {
  return [site.nodeRange, ...(site.poolRange ? [site.poolRange] : [])]
}

/** Nodes bound by MAC: the only ones a DHCP server has a reservation (or, in proxy mode, an answer) for. */
export function macBoundNodes(nodes: readonly BootNode[]): (BootNode & {mac: string})[] {
  return nodes.filter((n): n is BootNode & {mac: string} => n.mac !== undefined)
}

/*
 * Which boot file each kind of client gets (BootModel.dhcpBoot), as every DHCP renderer spells
 * it: iPXE by its user class, whatever option 93 says; UEFI x64 (option 93 = 7 or 9) that is not
 * iPXE; and everything else that is neither (BIOS PXE, and option-less clients such as the
 * initramfs) the BIOS file. A kind without a file gets none, as with ISC dhcpd: UEFI clients
 * while no UEFI loader is published.
 */

/** The interface a Kea or dnsmasq config names; the site's rules require it for these backends. */
export function dhcpInterface(site: SiteModel): string {
  if (!site.dhcp.interface) throw new Error(`internal: dhcp.interface is unset with backends.dhcp: ${site.backends.dhcp}`)
  return site.dhcp.interface
}
