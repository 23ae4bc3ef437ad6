import {z} from 'zod'

import {inRange, inSubnet, isIPv4, parseRange, parseSubnet, rangesOverlap, type AddressRange, type Subnet} from './address.js'

/** A hostname label as RFC 1123 allows: what dhcpd, DNS and the kernel's ip= all accept. */
export const HOSTNAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/

const ipv4 = z.string().refine(isIPv4, {message: 'must be an IPv4 address such as 192.168.0.10'})
const cidr = z.string().refine((s) => {
  try {
    parseSubnet(s)
    return true
  } catch {
    return false
  }
}, {message: 'must be a network in CIDR form such as 192.168.0.0/24'})
const range = z.string().refine((s) => {
  try {
    parseRange(s)
    return true
  } catch {
    return false
  }
}, {message: 'must be an address range FIRST-LAST such as 192.168.0.200-192.168.0.210'})
/** Paths end up in exports lines and dhcpd/pxelinux text: whitespace or control characters would split them. */
const hostDir = z.string().regex(/^\/[^\s\0]*$/, {message: 'must be an absolute path without spaces or control characters'})
const imageName = z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, {message: 'must be lowercase letters, digits, ".", "_" or "-"'})

export const SiteSchema = z.object({
  server: ipv4.describe('this server\'s address on the boot network'),
  subnet: cidr,
  router: ipv4.optional(),
  dns: z.array(ipv4).default([]),
  domain: z.string().regex(/^[a-z0-9.-]*$/i, {message: 'must be a DNS domain such as example.com'}).optional(),
  nodes: z.object({
    range,
    prefix: z.string().regex(/^[a-z][a-z0-9-]*$/, {message: 'must start with a letter and hold only a-z, 0-9 and "-"'}).default('node'),
    width: z.number().int().min(1).max(6).default(2),
  }).strict(),
  pool: range.optional(),
  lease: z.object({
    default: z.number().int().positive().default(86_400),
    max: z.number().int().positive().default(604_800),
  }).strict().default({}),
  paths: z.object({
    images: hostDir.default('/srv/pxeroot/images'),
    nodes: hostDir.default('/srv/nodes'),
    tftp: hostDir.default('/var/lib/tftpboot'),
  }).strict().default({}),
  backends: z.object({
    dhcp: z.enum(['isc']).default('isc'),
    nfs: z.enum(['kernel', 'ganesha']).default('kernel'),
  }).strict().default({}),
  boot: z.object({
    image: imageName.default('debian-bookworm'),
    kernelArgs: z.string().regex(/^[^\n\r]*$/, {message: 'must be on one line'}).default(''),
    unknown: z.enum(['local', 'none']).default('local'),
  }).strict().default({}),
  exports: z.array(z.object({
    path: hostDir,
    clients: z.string().regex(/^[^\s()]+$/, {message: 'must be an address, network or host pattern without spaces or parentheses'}),
    options: z.string().regex(/^[a-z0-9_=,.:/-]+$/i, {message: 'must be a comma-separated option list without spaces, e.g. rw,sync,no_subtree_check'}).default('rw,sync,no_root_squash,no_subtree_check'),
  }).strict()).default([]),
}).strict()

export type SiteInput = z.input<typeof SiteSchema>
export type Site = z.output<typeof SiteSchema>

/** The site with its derived network facts, as renderers and validation use it. */
export interface SiteModel extends Site {
  net: Subnet
  nodeRange: AddressRange
  poolRange?: AddressRange
}

export function deriveSite(site: Site): SiteModel {
  const net = parseSubnet(site.subnet)
  const nodeRange = parseRange(site.nodes.range)
  const poolRange = site.pool ? parseRange(site.pool) : undefined
  return {...site, net, nodeRange, poolRange}
}

/** Cross-field rules zod's per-field schema cannot see; each message names the field and the fix. */
export function siteProblems(site: SiteModel): string[] {
  const problems: string[] = []
  if (!inSubnet(site.server, site.net)) problems.push(`server: ${site.server} is outside subnet ${site.subnet}; use an address of that subnet`)
  if (site.router && !inSubnet(site.router, site.net)) problems.push(`router: ${site.router} is outside subnet ${site.subnet}`)
  for (const [field, r] of [['nodes.range', site.nodeRange], ['pool', site.poolRange]] as const) {
    if (!r) continue
    if (!inSubnet(r.start, site.net) || !inSubnet(r.end, site.net)) problems.push(`${field}: ${r.start}-${r.end} is not inside subnet ${site.subnet}`)
    if (inRange(site.server, r)) problems.push(`${field}: contains the server address ${site.server}; start the range after it`)
  }
  if (site.poolRange && rangesOverlap(site.nodeRange, site.poolRange)) {
    problems.push(`pool: ${site.pool} overlaps nodes.range ${site.nodes.range}; give unknown machines addresses apart from the nodes`)
  }
  if (site.lease.max < site.lease.default) problems.push('lease.max: must not be shorter than lease.default')
  return problems
}
