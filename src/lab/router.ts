import path from 'node:path'

import {dhcpdAcks} from '../backends/dhcp/isc-lab.js'
import {type LabDaemon, type LabEnv} from '../backends/types.js'
import {inRange, inSubnet, numberToIp} from '../config/address.js'
import {type SiteModel} from '../config/site.js'

/** A node the network's own DHCP server has a reservation for. */
export interface Reservation {
  name: string
  mac: string
  ip: string
}

/**
 * Where the lab's stand-in for the network's own DHCP server sits: the site's router when it
 * names another machine of the boot network, else the highest address of the subnet that is not
 * the server's and not in a range pxeroot hands out.
 */
export function standInAddress(site: SiteModel): string {
  const free = (ip: string) => ip !== site.server && !inRange(ip, site.nodeRange) && !(site.poolRange && inRange(ip, site.poolRange))
  if (site.router && free(site.router) && inSubnet(site.router, site.net)) return site.router
  for (let n = site.net.last; n >= site.net.first; n--) if (free(numberToIp(n))) return numberToIp(n)
  throw new Error(`internal: no address left in ${site.subnet} for the lab's stand-in DHCP server`)
}

/**
 * The stand-in's dhcpd.conf. It is the lab's, not pxeroot's output: what README's proxy section
 * asks of a site's DHCP server and nothing more, so that only pxeroot's proxy can have told a
 * node where to boot from. Addresses only: each node's address reserved for its MAC, the router
 * (itself) and the site's resolvers; no next-server (its answers carry siaddr 0.0.0.0) unless
 * `nextServer` is given (what README asks of a site with UEFI nodes: next-server = pxeroot's
 * server), no boot file name, no PXE vendor options (60, 43).
 */
export function standInConfig(site: SiteModel, address: string, nodes: readonly Reservation[], nextServer?: string): string {
  return [
    '# pxeroot lab: a stand-in for the network\'s own DHCP server (proxy mode). Not pxeroot\'s output:',
    nextServer
      ? '# addresses and next-server only, as README asks of a site with UEFI nodes; no boot file or PXE options.'
      : '# addresses only, as README asks of a site\'s server; no next-server, boot file or PXE options.',
    'authoritative;',
    'default-lease-time 600;',
    'max-lease-time 600;',
    `subnet ${site.net.network} netmask ${site.net.netmask} {`,
    `  option routers ${address};`,
    ...(nextServer ? [`  next-server ${nextServer};`] : []),
    ...(site.dns.length > 0 ? [`  option domain-name-servers ${site.dns.join(', ')};`] : []),
    ...(site.domain ? [`  option domain-name "${site.domain}";`] : []),
    '}',
    ...nodes.map((n) => `host ${n.name} { hardware ethernet ${n.mac}; fixed-address ${n.ip}; }`),
  ].join('\n') + '\n'
}

/** The stand-in run as dhcpd on its own host of the lab network (env.iface there); its log shows the addresses the nodes got. */
export function standInDhcpd(env: Pick<LabEnv, 'runDir' | 'iface'>, site: SiteModel, address: string, nodes: readonly Reservation[], nextServer?: string): LabDaemon {
  const file = (name: string) => path.join(env.runDir, name)
  return {
    files: [{name: 'router-dhcpd.conf', content: standInConfig(site, address, nodes, nextServer)}, {name: 'router-dhcpd.leases', content: ''}],
    program: 'dhcpd',
    args: ['-f', '-d', '-4', '-cf', file('router-dhcpd.conf'), '-lf', file('router-dhcpd.leases'), '-pf', file('router-dhcpd.pid'), env.iface],
    log: file('router-dhcpd.log'),
    ready: 'Server starting service',
    logsItself: false,
    acks: dhcpdAcks,
  }
}
