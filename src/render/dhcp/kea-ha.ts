import {ipToNumber, numberToIp, type AddressRange} from '../../config/address.js'
import {haEnabled, serverRole} from '../../config/servers.js'
import {haSettings, type SiteModel} from '../../config/site.js'

/**
 * Kea's HA hook (libdhcp_ha.so, with libdhcp_lease_cmds.so for the lease commands the peers send
 * each other) between a site's servers, as the server `site.self` runs it. The peers talk over
 * each one's own HTTP listener (the hook's dedicated listener, which needs multi-threading):
 * no Control Agent. Every server gets the same peers, with itself as this-server-name.
 */

/** Where Debian's kea-dhcp4-server installs its hook libraries (Kea 2.2 opens them by absolute path only). */
export function keaHooksDir(arch: string = process.arch): string {
  const triplet: Record<string, string> = {x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu', arm: 'arm-linux-gnueabihf', ia32: 'i386-linux-gnu', ppc64: 'powerpc64le-linux-gnu', s390x: 's390x-linux-gnu', riscv64: 'riscv64-linux-gnu'}
  return `/usr/lib/${triplet[arch] ?? `${arch}-linux-gnu`}/kea/hooks`
}

/** A peer's URL: its HA listener, on its haAddress (or its boot network address). */
export function peerUrl(site: SiteModel, server: {address: string, haAddress?: string}): string {
  return `http://${server.haAddress ?? server.address}:${haSettings(site).port}/`
}

/** The hook libraries of the server rendered for (none unless the site runs HA). */
export function keaHaHooks(site: SiteModel, hooksDir = keaHooksDir()): object[] {
  if (!haEnabled(site) || !site.self) return []
  const ha = haSettings(site)
  const peers = site.servers.map((s) => ({name: s.name, url: peerUrl(site, s), role: serverRole(site, s.name), 'auto-failover': serverRole(site, s.name) !== 'backup'}))
  return [
    {library: `${hooksDir}/libdhcp_lease_cmds.so`},
    {library: `${hooksDir}/libdhcp_ha.so`, parameters: {'high-availability': [{
      'this-server-name': site.self,
      mode: ha.mode,
      'heartbeat-delay': ha.heartbeatDelay,
      'max-response-delay': ha.maxResponseDelay,
      'max-unacked-clients': ha.maxUnackedClients,
      // The listener answers whoever reaches it: refuse every command the peers do not use.
      'restrict-commands': true,
      'multi-threading': {'enable-multi-threading': true, 'http-dedicated-listener': true, 'http-listener-threads': 0, 'http-client-threads': 0},
      peers,
    }]}},
  ]
}

/**
 * The dynamic ranges as pools. Load-balancing: each active server allocates from its own half
 * (Kea puts each client in HA_server1 or HA_server2 by a hash of its MAC), so the two never hand
 * one address to two machines; a server whose partner is down allocates from both halves, each
 * client from its own. Hot-standby: one server allocates at a time, the pools are shared.
 */
export function keaPools(site: SiteModel, ranges: readonly AddressRange[]): object[] {
  const pool = (r: AddressRange, cls?: string) => ({pool: `${r.start} - ${r.end}`, ...(cls ? {'client-class': cls} : {})})
  if (!haEnabled(site) || haSettings(site).mode !== 'load-balancing') return ranges.map((r) => pool(r))
  const [first, second] = halves(ranges)
  return [...first.map((r) => pool(r, 'HA_server1')), ...second.map((r) => pool(r, 'HA_server2'))]
}

/** The ranges split into two runs of (nearly) as many addresses, in address order. */
export function halves(ranges: readonly AddressRange[]): [AddressRange[], AddressRange[]] {
  const size = (r: AddressRange) => ipToNumber(r.end) - ipToNumber(r.start) + 1
  let left = Math.ceil(ranges.reduce((n, r) => n + size(r), 0) / 2)
  const first: AddressRange[] = []
  const second: AddressRange[] = []
  for (const r of ranges) {
    if (left >= size(r)) {
      first.push(r)
      left -= size(r)
    } else if (left > 0) {
      const cut = ipToNumber(r.start) + left
      first.push({start: r.start, end: numberToIp(cut - 1)})
      second.push({start: numberToIp(cut), end: r.end})
      left = 0
    } else {
      second.push(r)
    }
  }
  return [first, second]
}
