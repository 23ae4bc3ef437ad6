import {createHash} from 'node:crypto'
import {promises as fs} from 'node:fs'
import {z} from 'zod'

import {checkMac, inRange, inSubnet, ipToNumber, isIPv4, numberToIp} from '../config/address.js'
import {nodeExportId} from '../config/export-ids.js'
import {checkYamlData, readYaml, yamlLibrary, yamlLines, type LineOf} from '../config/issues.js'
import {quickCheck} from '../config/schema-check.js'
import {hostnameProblem, type SiteModel} from '../config/site.js'
import {UserError} from '../errors.js'
import {type Context} from '../system/context.js'
import {STATE, type Root} from '../system/paths.js'
import {REVISION_REF} from '../config/names.js'


/** Where pxeroot keeps BMC passwords (never in this file): one line per node, root only. */
export const BMC_SECRETS_FILE = '/etc/pxeroot/bmc-secrets'

export const BMC_DRIVERS = ['ipmi', 'redfish'] as const

/** An address ipmitool or an HTTPS client can be pointed at: IPv4, or a DNS name (with :port for Redfish). */
const BMC_ADDRESS = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*(?::[0-9]{1,5})?$/

/**
 * A node's baseboard management controller, which `nodes power` and `rollout` drive: its driver
 * (IPMI over LAN through ipmitool, or Redfish over HTTPS), address and user. Its password is in
 * BMC_SECRETS_FILE or PXEROOT_BMC_PASSWORD, never here.
 */
export const BmcSchema = z.object({
  driver: z.enum(BMC_DRIVERS, {errorMap: () => ({message: `must be ${BMC_DRIVERS.join(' or ')}`})}).default('ipmi'),
  address: z.string().regex(BMC_ADDRESS, {message: 'must be the BMC\'s address or DNS name, e.g. 10.0.1.101'}),
  user: z.string().regex(/^[^\s\0:]{1,64}$/, {message: 'must be a user name without spaces or ":"'}),
  password: z.never({errorMap: () => ({message: `passwords never go in the inventory: "pxeroot nodes set NODE --bmc-password-file FILE" keeps them in ${BMC_SECRETS_FILE} (root only)`})}).optional(),
  /** IPMI: the RMCP+ cipher suite (ipmitool -C); absent, ipmitool asks the BMC for its best. */
  cipher: z.number().int().min(0).max(17).optional(),
  /** Redfish: the system to drive, e.g. /redfish/v1/Systems/1; absent, the BMC's only one. */
  system: z.string().regex(/^\/redfish\/v1\/Systems\/[^\s?#]+$/, {message: 'must be a system\'s path such as /redfish/v1/Systems/1'}).optional(),
  /** Redfish: a PEM file (host path) of the CA or certificate that signed the BMC's; absent, the system's trust store. */
  ca: z.string().regex(/^\/[^\0\n]*$/, {message: 'must be an absolute path to a PEM file'}).optional(),
  /** Redfish: do not verify the BMC's certificate at all (a lab's self-signed BMC). */
  insecure: z.boolean().optional(),
}).strict()

export type InventoryBmc = z.output<typeof BmcSchema>

const NodeSchema = z.object({
  name: z.string(),
  ip: z.string().refine(isIPv4, {message: 'must be an IPv4 address'}),
  mac: z.string().optional(),
  /** The image revision (name@N) this node's root was cloned from; absent until it has a root. */
  image: z.string().regex(REVISION_REF, {message: 'must be an image revision such as debian-bookworm@3'}).optional(),
  kernelArgs: z.string().regex(/^[^\n\r]*$/, {message: 'must be on one line'}).optional(),
  /** On a site with several servers: the one whose storage holds the node's root and exports it (default: the first). */
  server: z.string().optional(),
  bmc: BmcSchema.optional(),
  /** What `nodes clone` records about the root (clone/record.ts reads it loosely). */
  clone: z.unknown().optional(),
}).strict()

export const InventorySchema = z.object({nodes: z.array(NodeSchema).default([])}).strict()

export type InventoryNode = z.output<typeof NodeSchema>
export interface Inventory {
  readonly nodes: readonly InventoryNode[]
}

/**
 * What a list of nodes gets wrong whatever the site says: a name that is no hostname, and a
 * name, address or MAC used twice. `who(i)` names entry i in the messages.
 */
function ownProblems(nodes: readonly InventoryNode[], who: (i: number) => string): string[] {
  const problems: string[] = []
  const seen = {name: new Map<string, number>(), ip: new Map<string, number>(), mac: new Map<string, number>(), bmc: new Map<string, number>()}
  nodes.forEach((node, i) => {
    const bad = hostnameProblem(node.name)
    if (bad) problems.push(`${who(i)}: ${bad}`)
    // One BMC powers one machine (a Redfish BMC of several systems: one per system).
    const bmc = node.bmc ? `${node.bmc.address.toLowerCase()}${node.bmc.system ? ` ${node.bmc.system}` : ''}` : undefined
    const claims: [keyof typeof seen, string | undefined][] = [['name', node.name.toLowerCase()], ['ip', node.ip], ['mac', node.mac], ['bmc', bmc]]
    for (const [field, value] of claims) {
      if (value === undefined) continue
      const first = seen[field].get(value)
      if (first === undefined) seen[field].set(value, i)
      else problems.push(`${who(i)}: ${field} ${value} is already used by ${who(first)}; every node needs its own ${field}${field === 'name' ? ': rename or remove one of them' : ''}`)
    }
  })
  return problems
}

/**
 * Parses the inventory text; pure. Refuses what no site could accept (see ownProblems), naming
 * each entry by its line, so a hand edit is refused by every command that reads the file. MACs
 * are normalised to lowercase so that duplicates differing in case are caught.
 */
export function parseInventory(text: string, source = STATE.inventoryFile): Inventory {
  return inventoryOf(readYaml(text, source), text, source)
}

/** The inventory in `data`, as read from `text` (its lines name the entries at fault). */
function inventoryOf(data: unknown, text: string, source: string): Inventory {
  // zod is asked only about an inventory its quick check cannot pass as it is (see schema-check.ts).
  const parsed = quickCheck(InventorySchema)(data) ? data as z.output<typeof InventorySchema> : checkYamlData(InventorySchema, data, text, source)
  let lines: LineOf | undefined
  const line = (i: number) => (lines ??= yamlLines(text))(['nodes', i])
  const problems: string[] = []
  const nodes = parsed.nodes.map((node, i) => {
    if (node.mac === undefined) return node
    const checked = checkMac(node.mac)
    if (checked.problem) problems.push(`line ${line(i)}: nodes.${i}.mac: ${checked.problem}`)
    return {...node, mac: checked.mac ?? node.mac}
  })
  problems.push(...ownProblems(nodes, (i) => `node ${JSON.stringify(nodes[i].name)} (line ${line(i)})`))
  if (problems.length > 0) throw new UserError(`${source}: ${problems.join('; ')}`)
  return {nodes}
}

/** The inventory as plain data, in the order and with the fields it is written with. */
function inventoryData(inventory: Inventory): {nodes: Record<string, unknown>[]} {
  const nodes = [...inventory.nodes].sort(byName).map((node) => {
    const out: Record<string, unknown> = {name: node.name, ip: node.ip}
    if (node.mac) out.mac = node.mac
    if (node.server) out.server = node.server
    if (node.image) out.image = node.image
    if (node.kernelArgs) out.kernelArgs = node.kernelArgs
    if (node.bmc) out.bmc = node.bmc
    for (const [key, value] of Object.entries(node)) if (!(key in out) && value !== undefined) out[key] = value
    return out
  })
  return {nodes}
}

export function serializeInventory(inventory: Inventory): string {
  return '# The nodes of this site. pxeroot nodes add/set/rm edit this file; hand edits are fine too,\n'
    + '# then run "pxeroot apply". Fields: name, ip, mac (optional: binds the node by MAC), image\n'
    + '# (the revision its root was cloned from), kernelArgs (extra kernel command line), bmc\n'
    + `# (driver ipmi|redfish, address, user: its password is in ${BMC_SECRETS_FILE}, never here),\n`
    + '# server (on a site with several servers: the one that holds and exports its root).\n'
    + yamlLibrary().stringify(inventoryData(inventory), {lineWidth: 0})
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex')

/**
 * The inventory's data as JSON, beside pxeroot's state, tagged with the hash of the YAML text it
 * was written with. Reading 1,000 nodes of YAML costs ~25 ms of CPU in the plain style
 * (config/plain-yaml.ts) and ~0.25 s with the yaml library, JSON under 1 ms, paid by every
 * `nodes list`, `status` and cron run; the copy is used only while the YAML text is
 * byte-for-byte the one pxeroot wrote, so a hand edit is read from the YAML (until pxeroot next
 * writes the inventory) and a stale or damaged copy is never believed.
 */
interface InventoryCopy {
  yamlSha256: string
  data: unknown
}

async function readCopy(root: Root, text: string): Promise<unknown> {
  const raw = await fs.readFile(root.resolve(STATE.inventoryCopy), 'utf8').catch(() => undefined)
  if (raw === undefined) return undefined
  try {
    const copy = JSON.parse(raw) as InventoryCopy
    return copy.yamlSha256 === sha256(text) ? copy.data : undefined
  } catch {
    return undefined
  }
}

/** One collator for every comparison: localeCompare with options builds one per call (50 ms to
 * sort 1,000 nodes, a fifth of nodes list's own time). */
const NAMES = new Intl.Collator('en', {numeric: true})

export function byName(a: {name: string}, b: {name: string}): number {
  return NAMES.compare(a.name, b.name)
}

export async function loadInventory(root: Root): Promise<Inventory> {
  const text = await fs.readFile(root.resolve(STATE.inventoryFile), 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return ''
    throw error
  })
  const data = await readCopy(root, text)
  return data === undefined ? parseInventory(text) : inventoryOf(data, text, STATE.inventoryFile)
}

export async function saveInventory(ctx: Pick<Context, 'root' | 'files'>, inventory: Inventory): Promise<void> {
  const text = serializeInventory(inventory)
  await ctx.files.write(ctx.root.resolve(STATE.inventoryFile), text, {mode: 0o644})
  // Only a cache (see InventoryCopy): not synced; a lost or stale copy only costs the YAML read.
  // It must hold what reading the YAML gives: JSON has no NaN or Infinity (a hand-edited .nan in
  // a clone record), so such an inventory gets no copy.
  let exact = true
  const json = JSON.stringify({yamlSha256: sha256(text), data: inventoryData(inventory)} satisfies InventoryCopy, (_key, value: unknown) => {
    if (typeof value === 'number' && !Number.isFinite(value)) exact = false
    return value
  })
  if (exact) await ctx.files.write(ctx.root.resolve(STATE.inventoryCopy), json, {mode: 0o644, sync: false})
}

/**
 * Checks the inventory as a whole against the site. dhcpd -t accepts duplicate MACs, duplicate
 * fixed addresses, addresses outside every subnet and fixed addresses inside a dynamic range, so
 * pxeroot refuses them itself before anything is rendered.
 */
export function inventoryProblems(site: SiteModel, inventory: Inventory): string[] {
  const problems = ownProblems(inventory.nodes, (i) => `node ${JSON.stringify(inventory.nodes[i].name)}`)
  for (const node of inventory.nodes) {
    const who = `node ${JSON.stringify(node.name)}`
    if (!inSubnet(node.ip, site.net)) {
      problems.push(`${who}: ip ${node.ip} is outside subnet ${site.subnet}; pick an address in ${site.nodes.range}`)
      continue
    }
    const server = serverAt(site, node.ip)
    if (server || node.ip === site.router) problems.push(`${who}: ip ${node.ip} is the ${server ?? 'router'}'s address`)
    problems.push(...rootServerProblems(site, node, who))
    if (site.dhcp.mode === 'proxy' && !node.mac) {
      problems.push(`${who}: has no MAC, and in proxy mode (dhcp.mode: proxy) the network's DHCP server picks addresses, so a node is found by its MAC alone; give it one (pxeroot nodes set ${node.name} --mac aa:bb:cc:dd:ee:ff)`)
    } else if (site.poolRange && inRange(node.ip, site.poolRange)) {
      problems.push(`${who}: ip ${node.ip} lies in the dynamic pool ${site.pool}; a node's address must be outside the pool for unknown machines`)
    } else if (!node.mac && !inRange(node.ip, site.nodeRange)) {
      problems.push(`${who}: ip ${node.ip} is outside nodes.range ${site.nodes.range}, so DHCP never hands it out; give the node a MAC (--mac) or an address in the range`)
    }
  }
  if (site.backends.nfs === 'ganesha') problems.push(...exportIdProblems(inventory.nodes))
  return problems
}

/** Which server holds an address: "server" on a site with one, else "server NAME". */
function serverAt(site: SiteModel, ip: string): string | undefined {
  if (site.servers.length === 0) return ip === site.server ? 'server' : undefined
  const s = site.servers.find((x) => x.address === ip || x.haAddress === ip)
  return s ? `server ${s.name}` : undefined
}

/** A node's `server` names one of the site's servers (and only a site with several has any). */
function rootServerProblems(site: SiteModel, node: InventoryNode, who: string): string[] {
  if (node.server === undefined) return []
  if (site.servers.length === 0) return [`${who}: server ${node.server}: the site has one server (server: ${site.server}); remove server from the node`]
  if (site.servers.some((s) => s.name === node.server)) return []
  return [`${who}: server ${node.server} is none of the site's servers (${site.servers.map((s) => s.name).join(', ')}); name the one that holds its root (pxeroot nodes set ${node.name} --server NAME)`]
}

/** Two nodes NFS-Ganesha would give one Export_Id (possible only on subnets larger than /16, or at a /16's very ends). */
function exportIdProblems(nodes: readonly InventoryNode[]): string[] {
  const problems: string[] = []
  const seen = new Map<number, InventoryNode>()
  for (const node of nodes) {
    const id = nodeExportId(node.ip)
    const other = seen.get(id)
    if (!other) seen.set(id, node)
    else if (other.ip !== node.ip) {
      problems.push(`node ${JSON.stringify(node.name)}: NFS-Ganesha would give it Export_Id ${id}, as node ${JSON.stringify(other.name)} (${other.ip}): ids come from the last 16 bits of the address; give one of them an address that differs there`)
    }
  }
  return problems
}

export function assertValidInventory(site: SiteModel, inventory: Inventory): void {
  const problems = inventoryProblems(site, inventory)
  if (problems.length > 0) throw new UserError(problems.join('; '))
}

/** The next address of the node range that no node uses. */
export function nextFreeIp(site: SiteModel, inventory: Inventory): string | undefined {
  const used = new Set(inventory.nodes.map((n) => ipToNumber(n.ip)))
  for (const ip of [site.server, ...site.servers.map((s) => s.address), ...(site.router ? [site.router] : [])]) used.add(ipToNumber(ip))
  for (let n = ipToNumber(site.nodeRange.start); n <= ipToNumber(site.nodeRange.end); n++) {
    if (!used.has(n)) {
      return numberToIp(n)
    }
  }
  return undefined
}

export function nodeName(site: SiteModel, index: number): string {
  return `${site.nodes.prefix}${String(index).padStart(site.nodes.width, '0')}`
}
