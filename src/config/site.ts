import {z} from 'zod'

import {AddressError, inRange, inSubnet, isIPv4, parseRange, parseSubnet, rangesOverlap, type AddressRange, type Subnet} from './address.js'
import {parseDuration} from './duration.js'
import {EXTRA_EXPORT_ID_BASE, MAX_EXPORT_ID} from './export-ids.js'
import {IMAGE_NAME, INTERFACE_NAME} from './names.js'

/** A hostname label as RFC 1123 allows: what dhcpd, DNS and the kernel's ip= all accept. */
export const HOSTNAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/

/** Why a node name cannot be a hostname, or undefined when it can. */
export function hostnameProblem(name: string): string | undefined {
  if (name.length > 63) return `name is ${name.length} characters long; a hostname label has at most 63`
  if (!HOSTNAME.test(name)) return 'name must be a hostname (lowercase letters, digits and "-", no "/", "..", "_" or spaces), e.g. node01'
  return undefined
}

const ipv4 = z.string().refine(isIPv4, {message: 'must be an IPv4 address such as 192.168.0.10'})
/** A string `parse` accepts; its own message when the form is right but the values are not, else `message`. */
function parsedBy(parse: (text: string) => unknown, message: string) {
  return z.string().superRefine((text, ctx) => {
    try {
      parse(text)
    } catch (error) {
      ctx.addIssue({code: z.ZodIssueCode.custom, message: error instanceof AddressError ? error.message : message})
    }
  })
}
const cidr = parsedBy(parseSubnet, 'must be a network in CIDR form such as 192.168.0.0/24')
const range = parsedBy(parseRange, 'must be an address range FIRST-LAST such as 192.168.0.200-192.168.0.210')
/**
 * Host paths end up in /etc/default/tftpd-hpa (which the init script sources as shell: a "$",
 * quote or backquote there is expanded or breaks it), in exports lines and Ganesha blocks (split
 * by spaces and quotes) and in the kernel's nfsroot= (split by commas). Rather than quote for
 * each, such paths are refused: the characters every one of them takes as is.
 */
const hostDir = z.string().superRefine((p, ctx) => {
  const bad = p.startsWith('/') ? /[^A-Za-z0-9._+@/-]/.exec(p)?.[0] : undefined
  if (!p.startsWith('/') || bad !== undefined) {
    ctx.addIssue({code: z.ZodIssueCode.custom, message: `must be an absolute path without spaces or shell characters${bad === undefined ? '' : ` (found ${JSON.stringify(bad)})`}; use only letters, digits and . _ + @ - /`})
  }
})
const imageName = z.string().regex(IMAGE_NAME, {message: 'must be lowercase letters, digits, ".", "_" or "-"'})
const interfaceName = z.string().regex(INTERFACE_NAME, {message: 'must be a network interface name such as eth0 or br0 ("ip -br link" lists them)'})
/** Every DHCP server reads a lease time as 32 bits, dnsmasq as a signed int: larger values wrap silently. */
const leaseSeconds = z.number().int().positive().max(2_147_483_647, {message: 'must be at most 2147483647 seconds (68 years); larger values wrap around in the DHCP servers'})

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

/** The firmware a node can network-boot from: legacy BIOS PXE, and x64 UEFI (with or without Secure Boot). */
export const FIRMWARE = ['bios', 'uefi'] as const
export type Firmware = typeof FIRMWARE[number]

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
  /** The archive keyring debootstrap verifies with, a file on this machine: an Ubuntu recipe on a
   * Debian host needs one, since Debian has no ubuntu-keyring package. */
  keyring: hostDir.optional(),
  /** MODULES=list with these modules instead of MODULES=netboot: a much smaller, faster initrd for known NICs. */
  initramfsModules: z.array(z.string().regex(/^[a-z0-9_-]+$/, {message: 'must be a kernel module name such as e1000'})).min(1).optional(),
}).strict()

/** A Ceph name: pool, cephx id, network namespace (no "/", "@", spaces or shell characters). */
const cephName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, {message: 'must be letters, digits, ".", "_" or "-"'})
/** A monitor as the kernel's rbd client takes it: IPv4 ADDR:PORT, msgr v1 (port 6789). */
const monitor = z.string().refine((m) => {
  const [addr, port, ...rest] = m.split(':')
  return rest.length === 0 && isIPv4(addr) && /^[0-9]{1,5}$/.test(port ?? '') && Number(port) > 0 && Number(port) < 65_536
}, {message: 'must be a monitor address ADDR:PORT such as 10.0.0.1:6789 (msgr v1, what a node\'s kernel speaks)'})

/** storage.rbd: the Ceph pool and how pxeroot and the nodes reach it. */
export const RbdSettingsSchema = z.object({
  pool: cephName,
  /** The cluster's ceph.conf (a host path; pxeroot reads mon_host from it and hands it to every Ceph client). */
  cephConf: hostDir.default('/etc/ceph/ceph.conf'),
  /** The cephx user pxeroot's own Ceph clients run as, without "client.". */
  id: cephName.default('admin'),
  /** The monitors nodes are told (their kernel maps their root through them); default: ceph.conf's mon_host, msgr v1. */
  monitors: z.array(monitor).min(1).optional(),
  /** direct: each node maps its own clone; gateway: this server attaches the clones and exports them over NFS. */
  mode: z.enum(['direct', 'gateway']).default('direct'),
  /** Lab and tests only: the network namespace pxeroot's Ceph clients run in (where a throwaway cluster lives). */
  netns: cephName.optional(),
}).strict()

/** Where revisions and node roots live; see src/storage/. */
export const StorageSchema = z.object({
  /** local: the server's own disk under paths.images and paths.nodes; rbd: a Ceph pool. */
  backend: z.enum(['local', 'rbd']).default('local'),
  rbd: RbdSettingsSchema.optional(),
}).strict()

/** One boot server of a site that has several (README "Several boot servers"). */
export const ServerSchema = z.object({
  /** What `apply --server NAME` and the inventory's `server` call it; Kea's HA peer name. */
  name: z.string().regex(HOSTNAME, {message: 'must be a hostname label (lowercase letters, digits and "-"), e.g. boot1'}),
  /** Its address on the boot network: next-server, TFTP, HTTP and NFS for the nodes it answers. */
  address: ipv4,
  /** Where its Kea HA listener listens (another network between the servers); default: address. */
  haAddress: ipv4.optional(),
  /** Its boot network interface, where it differs from dhcp.interface (Kea and dnsmasq listen only there). */
  interface: interfaceName.optional(),
}).strict()

/** Kea's HA hook between the first two servers (README "DHCP failover"). */
export const HaSchema = z.object({
  /** hot-standby: the first server answers, the second takes over; load-balancing: both answer, each from its half of the ranges. */
  mode: z.enum(['hot-standby', 'load-balancing']).default('hot-standby'),
  /** The TCP port of each server's HA listener (lease updates and heartbeats between the servers). */
  port: z.number().int().min(1).max(65_535).default(8001),
  /** Milliseconds between heartbeats. */
  heartbeatDelay: z.number().int().min(100).max(600_000).default(1000),
  /** Milliseconds without an answer after which a server takes its partner for down. */
  maxResponseDelay: z.number().int().min(200).max(3_600_000).default(4000),
  /** 0: take over as soon as the partner stops answering; N: only once N clients went unanswered too (safer when the servers' own link may fail while both run). */
  maxUnackedClients: z.number().int().min(0).max(1000).default(0),
}).strict()

/** A duration: seconds, or 90s, 10m, 1h; kept in seconds. */
const duration = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const seconds = parseDuration(v)
  if (seconds === undefined || seconds < 1) {
    ctx.addIssue({code: z.ZodIssueCode.custom, message: 'must be a duration such as 600, 90s, 10m or 1h'})
    return z.NEVER
  }
  return seconds
})

export const SiteSchema = z.object({
  /** This server's address on the boot network (a site with one boot server). */
  server: ipv4.describe('this server\'s address on the boot network').optional(),
  /** The boot servers of a site that has several; each renders its own share (apply --server NAME). */
  servers: z.array(ServerSchema).min(1, {message: 'must list at least one server, e.g. [{name: boot1, address: 192.168.0.10}]'}).optional(),
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
    default: leaseSeconds.default(86_400),
    max: leaseSeconds.default(604_800),
  }).strict().default({}),
  paths: z.object({
    images: hostDir.default('/srv/pxeroot/images'),
    nodes: hostDir.default('/srv/nodes'),
    tftp: hostDir.default('/var/lib/tftpboot'),
  }).strict().default({}),
  backends: z.object({
    dhcp: z.enum(['isc', 'kea', 'dnsmasq']).default('isc'),
    nfs: z.enum(['kernel', 'ganesha']).default('kernel'),
  }).strict().default({}),
  /** How pxeroot's DHCP server answers; see README "DHCP backends". */
  dhcp: z.object({
    /** full: it hands out addresses too; proxy (dnsmasq only): it adds PXE answers beside the network's own DHCP server. */
    mode: z.enum(['full', 'proxy']).default('full'),
    /** The boot network's interface; Kea and dnsmasq listen only there (init fills it in). */
    interface: interfaceName.optional(),
    /** Kea's HA hook, for a site with several servers (defaults: haSettings). */
    ha: HaSchema.optional(),
  }).strict().default({}),
  boot: z.object({
    image: imageName.default('debian-bookworm'),
    kernelArgs: z.string().regex(/^[^\n\r]*$/, {message: 'must be on one line'}).default(''),
    unknown: z.enum(['local', 'none']).default('local'),
    /** The machines served: BIOS (pxelinux) and/or UEFI (shim + GRUB); DHCP option 93 picks per client. */
    firmware: z.array(z.enum(FIRMWARE, {errorMap: () => ({message: 'must be bios or uefi'})}))
      .min(1, {message: 'must list bios, uefi or both, e.g. [bios, uefi]'})
      .transform((list) => FIRMWARE.filter((f) => list.includes(f)))
      .default([...FIRMWARE]),
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
  storage: StorageSchema.default({}),
  /** How `rollout` moves nodes to a revision when its flags do not say (and what image update --then-rollout uses). */
  rollout: z.object({
    /** Nodes moved first, alone: the rollout goes on only when they came up on the new revision. */
    canary: z.number().int().min(0).max(10_000).default(1),
    /** Nodes moved at once after the canaries. */
    wave: z.number().int().min(1).max(10_000).default(5),
    /** How long a node gets, from its power-on, to come up on the new revision. */
    timeout: duration.default('10m'),
    /** How long a node's OS gets to shut down (graceful power-off) before its power is cut. */
    shutdownTimeout: duration.default('2m'),
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
    // Rendered into exports lines and Ganesha blocks: nothing that could end or add a setting there.
    clients: z.string().regex(/^[A-Za-z0-9.:/*?@_-]+$/, {message: 'must be an address, network, host pattern or @netgroup (letters, digits and . : / * ? @ _ -), e.g. 192.168.0.0/24'}),
    options: z.string().regex(/^[a-z0-9_=,.:/-]+$/i, {message: 'must be a comma-separated option list without spaces, e.g. rw,sync,no_subtree_check'}).default('rw,sync,no_root_squash,no_subtree_check'),
  }).strict()).default([]),
}).strict()

export type SiteInput = z.input<typeof SiteSchema>
export type Site = z.output<typeof SiteSchema>
export type SiteServer = z.output<typeof ServerSchema>
export type HaSettings = z.output<typeof HaSchema>

/** Kea's HA settings as given, each missing one at its default. */
export function haSettings(site: Pick<Site, 'dhcp'>): HaSettings {
  return site.dhcp.ha ?? HaSchema.parse({})
}

/** The site with its derived network facts, as renderers and validation use it. */
export interface SiteModel extends Omit<Site, 'server' | 'servers'> {
  /**
   * The address of the server this run renders for: `server`, or on a site with several servers
   * the chosen one's (config/servers.ts: forServer), until one is chosen the first's.
   */
  server: string
  /** The site's boot servers; empty for a site with one (`server`). */
  servers: readonly SiteServer[]
  /** The name of the server this run renders for, once chosen (sites with several servers). */
  self?: string
  net: Subnet
  nodeRange: AddressRange
  poolRange?: AddressRange
}

export function deriveSite(site: Site): SiteModel {
  const net = parseSubnet(site.subnet)
  const nodeRange = parseRange(site.nodes.range)
  const poolRange = site.pool ? parseRange(site.pool) : undefined
  const servers = site.servers ?? []
  // A site without either is refused by siteProblems; until then it renders for no address.
  const server = site.server ?? servers[0]?.address ?? '0.0.0.0'
  return {...site, server, servers, net, nodeRange, poolRange}
}

/** The fields as the site file has them: what init writes back and what a site file round-trips to. */
export function siteFields(site: SiteModel): Site {
  const {net: _net, nodeRange: _range, poolRange: _pool, self: _self, server, servers, ...rest} = site
  return {...rest, ...(servers.length > 0 ? {servers: [...servers]} : {server})}
}

/** Cross-field rules zod's per-field schema cannot see; each message names the field and the fix. */
export function siteProblems(site: SiteModel, given: Pick<Site, 'server' | 'servers'> = givenServers(site)): string[] {
  const problems: string[] = [...serverProblems(site, given)]
  if (site.router && !inSubnet(site.router, site.net)) problems.push(`router: ${site.router} is outside subnet ${site.subnet}`)
  const addresses = site.servers.length > 0 ? site.servers.map((s) => ({field: `server ${s.name}`, address: s.address})) : given.server ? [{field: 'server', address: site.server}] : []
  for (const [field, r] of [['nodes.range', site.nodeRange], ['pool', site.poolRange]] as const) {
    if (!r) continue
    if (!inSubnet(r.start, site.net) || !inSubnet(r.end, site.net)) problems.push(`${field}: ${r.start}-${r.end} is not inside subnet ${site.subnet}`)
    for (const s of addresses) if (inRange(s.address, r)) problems.push(`${field}: contains the ${s.field === 'server' ? 'server' : s.field} address ${s.address}; start the range after it`)
  }
  if (site.poolRange && rangesOverlap(site.nodeRange, site.poolRange)) {
    problems.push(`pool: ${site.pool} overlaps nodes.range ${site.nodes.range}; give unknown machines addresses apart from the nodes`)
  }
  if (site.lease.max < site.lease.default) problems.push('lease.max: must not be shorter than lease.default')
  const extraIds = MAX_EXPORT_ID - EXTRA_EXPORT_ID_BASE + 1
  if (site.backends.nfs === 'ganesha' && site.exports.length > extraIds) problems.push(`exports: NFS-Ganesha has export ids for ${extraIds} extra exports; share a parent directory instead`)
  problems.push(...dhcpProblems(site))
  if (site.storage.backend === 'rbd' && !site.storage.rbd) {
    problems.push('storage.rbd: is required with storage.backend: rbd; give its pool and cephConf, or run "pxeroot storage prepare --rbd POOL --ceph-conf FILE"')
  }
  return problems
}

/** What a derived site says of `server` and `servers` (the parsed file's own fields are better: they tell "both" and "neither" apart). */
function givenServers(site: SiteModel): Pick<Site, 'server' | 'servers'> {
  return site.servers.length > 0 ? {servers: [...site.servers]} : {server: site.server}
}

/** `server` or `servers`, each server's name and addresses its own and on the boot network. */
function serverProblems(site: SiteModel, given: Pick<Site, 'server' | 'servers'>): string[] {
  if (given.server !== undefined && given.servers !== undefined) {
    return ['server: remove it: with servers, each server\'s address is its entry in servers (and apply --server NAME says which one renders)']
  }
  if (given.server === undefined && given.servers === undefined) {
    return ['server: is required: this server\'s address on the boot network (or servers: the list of boot servers, each {name, address})']
  }
  if (given.server !== undefined) return inSubnet(site.server, site.net) ? [] : [`server: ${site.server} is outside subnet ${site.subnet}; use an address of that subnet`]
  const problems: string[] = []
  const seen = new Map<string, string>()
  const claim = (key: string, who: string, what: string) => {
    const first = seen.get(key)
    if (first) problems.push(`servers: ${who} has the ${what} of ${first}; every server needs its own`)
    else seen.set(key, who)
  }
  for (const s of site.servers) {
    claim(`name ${s.name}`, s.name, 'name')
    claim(`ip ${s.address}`, s.name, `address ${s.address}`)
    if (s.haAddress && s.haAddress !== s.address) claim(`ip ${s.haAddress}`, s.name, `address ${s.haAddress}`)
    if (!inSubnet(s.address, site.net)) problems.push(`servers: ${s.name}'s address ${s.address} is outside subnet ${site.subnet}; use its address on the boot network`)
  }
  const ha = haSettings(site)
  if (ha.maxResponseDelay <= ha.heartbeatDelay) problems.push(`dhcp.ha.maxResponseDelay: ${ha.maxResponseDelay} ms must be longer than heartbeatDelay (${ha.heartbeatDelay} ms), a few heartbeats long`)
  if (ha.mode === 'load-balancing' && site.backends.dhcp === 'kea' && site.servers.length < 2) problems.push('dhcp.ha.mode: load-balancing needs two servers in servers; list both, or use hot-standby')
  return problems
}

/** The DHCP settings that only make sense together. */
function dhcpProblems(site: SiteModel): string[] {
  const problems: string[] = []
  const {dhcp, backends} = site
  if (dhcp.mode === 'proxy' && backends.dhcp !== 'dnsmasq') {
    problems.push(`dhcp.mode: proxy needs backends.dhcp: dnsmasq (only dnsmasq answers PXE requests beside another DHCP server), not ${backends.dhcp}; set backends.dhcp: dnsmasq, or dhcp.mode: full`)
  }
  if (backends.dhcp !== 'isc' && !dhcp.interface && site.servers.length === 0) {
    problems.push(`dhcp.interface: is required with backends.dhcp: ${backends.dhcp}; name the interface that holds ${site.server}, e.g. dhcp: {interface: eth0} ("ip -br addr" lists them)`)
  }
  const bare = site.servers.filter((s) => !s.interface)
  if (backends.dhcp !== 'isc' && !dhcp.interface && bare.length > 0) {
    problems.push(`dhcp.interface: is required with backends.dhcp: ${backends.dhcp} (servers ${bare.map((s) => s.name).join(', ')} name none of their own); name the boot network's interface, e.g. dhcp: {interface: eth0}, or give each server its own (servers: [{name, address, interface}])`)
  }
  if (dhcp.mode === 'proxy' && site.pool) {
    problems.push('pool: in proxy mode the network\'s own DHCP server hands out every address; remove pool, or set dhcp.mode: full')
  }
  return problems
}

export type NfsBackend = Site['backends']['nfs']
export type RbdSettings = NonNullable<Site['storage']['rbd']>
export type BootTransport = Site['boot']['transport']
