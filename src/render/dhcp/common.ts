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

/** The dynamic ranges: the node range without MAC-bound nodes' fixed addresses, plus the pool. */
export function dynamicRanges(site: SiteModel, nodes: readonly BootNode[]): AddressRange[] {
  const fixed = nodes.filter((n) => n.mac).map((n) => n.ip)
  return [...carveRange(site.nodeRange, fixed), ...(site.poolRange ? [site.poolRange] : [])]
}
