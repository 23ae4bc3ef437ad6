import {z} from 'zod'

import {inRange, inSubnet, isIPv4, parseRange, parseSubnet, rangesOverlap, type AddressRange, type Subnet} from './address.js'
import {IMAGE_NAME} from './names.js'

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
const imageName = z.string().regex(IMAGE_NAME, {message: 'must be lowercase letters, digits, ".", "_" or "-"'})

/** Node-local state by default: identity, logs and home directories; what a rebase must keep. */
export const DEFAULT_NODE_LOCAL = [
  '/etc/hostname',
  '/etc/hosts',
  '/etc/machine-id',
  '/var/lib/dbus/machine-id',
  '/etc/ssh/ssh_host_*',
  '/root',
  '/home',
  '/var/log',
  '/var/lib/systemd/random-seed',
] as const

/** The built-in recipes a custom recipe can extend; their definitions live in src/images/recipes.ts. */
export const BUILTIN_RECIPES = ['debian-bookworm', 'debian-trixie', 'ubuntu-jammy', 'ubuntu-noble'] as const
const debPackage = z.string().regex(/^[a-z0-9][a-z0-9+.-]+$/, {message: 'must be a Debian package name such as vim'})
const mirrorUrl = z.string().regex(/^(https?|file):\/\/[^\s]+$/, {message: 'must be an http(s):// or file:// URL such as http://deb.debian.org/debian'})

/** A site recipe: a built-in plus additions. postInstall commands are argv arrays run in the image's chroot. */
export const RecipeSchema = z.object({
  extends: z.enum(BUILTIN_RECIPES, {errorMap: () => ({message: `must be one of ${BUILTIN_RECIPES.join(', ')}`})}),
  packages: z.array(debPackage).default([]),
  components: z.array(z.string().regex(/^[a-z0-9-]+$/, {message: 'must be an archive component such as contrib'})).default([]),
  mirror: mirrorUrl.optional(),
  postInstall: z.array(z.array(z.string().regex(/^[^\0]*$/)).min(1, {message: 'must be a non-empty argv array such as ["systemctl", "enable", "foo"]'})).default([]),
  /** MODULES=list with these modules instead of MODULES=netboot: a much smaller, faster initrd for known NICs. */
  initramfsModules: z.array(z.string().regex(/^[a-z0-9_-]+$/, {message: 'must be a kernel module name such as e1000'})).min(1).optional(),
}).strict()

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
    /** How nodes fetch kernel and initrd: tftp (pxelinux) or http (iPXE, served by the web server). */
    transport: z.enum(['tftp', 'http']).default('tftp'),
    /** The web server's port when transport is http. */
    httpPort: z.number().int().min(1).max(65_535).default(80),
  }).strict().default({}),
  /** How node roots are cloned from image revisions; see src/clone/. */
  clone: z.object({
    /** Host key types generated per node. RSA costs far more than a snapshot, so it is opt-in. */
    hostKeyTypes: z.array(z.enum(['ed25519', 'ecdsa', 'rsa'])).min(1).default(['ed25519', 'ecdsa']),
    /** Paths (absolute inside a node root; "*" allowed in the last component) that belong to the
     * node rather than the image: carried across `nodes rebase`, never taken from the new revision. */
    nodeLocal: z.array(z.string().regex(/^\/[^\s\0]*$/, {message: 'must be an absolute path inside the node root without spaces'})
      .refine((p) => !p.split('/').includes('..'), {message: 'must not contain ".."'})).default([...DEFAULT_NODE_LOCAL]),
    /** Clones (and key generations) run at once. */
    concurrency: z.number().int().min(1).max(64).default(4),
  }).strict().default({}),
  recipes: z.record(imageName, RecipeSchema).default({}),
  images: z.object({
    /** debootstrap --cache-dir: downloaded .debs kept between builds (a host path). */
    debCache: hostDir.optional(),
    /** Free space the images filesystem must have before a build or update starts. */
    minFreeMiB: z.number().int().positive().default(2048),
    minFreeInodes: z.number().int().positive().default(100_000),
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

export type NfsBackend = Site['backends']['nfs']
export type BootTransport = Site['boot']['transport']
