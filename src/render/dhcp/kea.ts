import {type BootModel} from '../../boot/model.js'
import {header} from '../header.js'
import {dhcpInterface, dynamicRanges, IPXE_USER_CLASS, macBoundNodes, UEFI_ARCHES} from './common.js'
import {keaHaHooks, keaPools} from './kea-ha.js'

/**
 * Where Kea keeps its state. Debian's AppArmor profile for kea-dhcp4 lets it write exactly these
 * (and read only /etc/kea/**), so pxeroot uses Debian's own names.
 */
export const KEA_STATE = {
  leases: '/var/lib/kea/kea-leases4.csv',
  socket: '/run/kea/kea4-ctrl-socket',
  log: '/var/log/kea/kea-dhcp4.log',
} as const

/** One JSON value on one line, with a space after ":" and ",", as a person would write it. */
function inline(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(inline).join(', ')}]`
  if (value !== null && typeof value === 'object') return `{${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}: ${inline(v)}`).join(', ')}}`
  return JSON.stringify(value)
}

/** A JSON array with one element per line: a refused reservation is named by its line. */
function lines(indent: string, items: readonly unknown[]): string[] {
  return items.map((item, i) => `${indent}${inline(item)}${i < items.length - 1 ? ',' : ''}`)
}

const UEFI_TEST = UEFI_ARCHES.map((a) => `option[93].hex == 0x${a.hex}`).join(' or ')
const IPXE_TEST = `substring(option[77].hex,0,${IPXE_USER_CLASS.length}) == '${IPXE_USER_CLASS}'`

/** The boot file by client class; the tests exclude each other, so no class overrides another's file. */
function bootClasses(model: BootModel): object[] {
  const {ipxe, uefi, bios} = model.dhcpBoot
  const notIpxe = ipxe ? ` and not member('pxeroot-ipxe')` : ''
  return [
    ...(ipxe ? [{name: 'pxeroot-ipxe', test: IPXE_TEST, 'boot-file-name': ipxe}] : []),
    ...(uefi ? [{name: 'pxeroot-uefi', test: `(${UEFI_TEST})${notIpxe}`, 'boot-file-name': uefi}] : []),
    {name: 'pxeroot-bios', test: `not (${UEFI_TEST})${notIpxe}`, 'boot-file-name': bios},
  ]
}

/**
 * The complete kea-dhcp4 configuration pxeroot owns: the boot subnet, its dynamic pools, one
 * reservation per MAC-bound node, and the boot file by client class. Kea reads comments in its
 * JSON; pxeroot's are whole lines starting with "//".
 */
export function renderKeaConfig(model: BootModel): string {
  const {site, nodes} = model
  const options = [
    ...(site.router ? [{name: 'routers', data: site.router}] : []),
    ...(site.dns.length > 0 ? [{name: 'domain-name-servers', data: site.dns.join(', ')}] : []),
    ...(site.domain ? [{name: 'domain-name', data: site.domain}] : []),
    {name: 'broadcast-address', data: site.net.broadcast},
  ]
  const reservations = macBoundNodes(nodes).map((n) => ({'hw-address': n.mac, 'ip-address': n.ip, hostname: n.name}))
  const pools = keaPools(site, dynamicRanges(site, nodes))
  const hooks = keaHaHooks(site)
  return [
    header('//'),
    '{"Dhcp4": {',
    // Retries: at boot the interface may come up after Kea starts.
    `  "interfaces-config": ${inline({interfaces: [dhcpInterface(site)], 'service-sockets-max-retries': 30, 'service-sockets-retry-wait-time': 2000})},`,
    `  "control-socket": ${inline({'socket-type': 'unix', 'socket-name': KEA_STATE.socket})},`,
    `  "lease-database": ${inline({type: 'memfile', persist: true, name: KEA_STATE.leases, 'lfc-interval': 3600})},`,
    '  // Leases are keyed on the MAC alone: PXE firmware sends a client identifier and the',
    '  // initramfs does not, and both must get the same address.',
    '  "match-client-id": false,',
    '  "authoritative": true,',
    ...(hooks.length === 0 ? [] : [
      '  // DHCP failover with the other servers (Kea\'s HA hook; its listener needs multi-threading).',
      `  "multi-threading": ${inline({'enable-multi-threading': true})},`,
      `  "hooks-libraries": ${JSON.stringify(hooks, null, 2).replaceAll('\n', '\n  ')},`,
    ]),
    `  "valid-lifetime": ${site.lease.default},`,
    `  "max-valid-lifetime": ${site.lease.max},`,
    '  // The boot file by client: iPXE by its user class, UEFI x64 by option 93 (7 or 9), else BIOS.',
    '  "client-classes": [',
    ...lines('    ', bootClasses(model)),
    '  ],',
    '  "subnet4": [{',
    '    "id": 1,',
    `    "subnet": "${site.net.network}/${site.net.prefixLength}",`,
    `    "pools": ${inline(pools)},`,
    `    "next-server": "${site.server}",`,
    '    "option-data": [',
    ...lines('      ', options),
    '    ],',
    '    // Nodes bound by MAC: a fixed address outside the pools.',
    '    "reservations": [',
    ...lines('      ', reservations),
    '    ]',
    '  }],',
    `  "loggers": [${inline({name: 'kea-dhcp4', output_options: [{output: KEA_STATE.log}], severity: 'INFO'})}]`,
    '}}',
  ].join('\n') + '\n'
}

/** Kea's JSON without pxeroot's comment lines, for code that reads it back (the lab). */
export function parseKeaConfig(text: string): {Dhcp4: Record<string, unknown>} {
  return JSON.parse(text.split('\n').filter((l) => !/^\s*\/\//.test(l)).join('\n')) as {Dhcp4: Record<string, unknown>}
}

/**
 * A systemd drop-in for Debian's kea-dhcp4-server unit: it runs Kea on pxeroot's file, so the
 * admin's /etc/kea/kea-dhcp4.conf is never edited, and gives the unit the reload it lacks
 * (kea-dhcp4 rereads its configuration on SIGHUP and keeps its leases).
 */
export function renderKeaDropIn(configPath: string): string {
  return [
    header('#'),
    '[Service]',
    'ExecStart=',
    `ExecStart=/usr/sbin/kea-dhcp4 -c ${configPath}`,
    'ExecReload=/bin/kill -HUP $MAINPID',
  ].join('\n') + '\n'
}
