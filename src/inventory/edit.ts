import {checkMac, isIPv4} from '../config/address.js'
import {type SiteModel} from '../config/site.js'
import {UserError} from '../errors.js'
import {REVISION_REF} from '../config/names.js'
import {REVISIONS_NAMESPACE} from '../storage/rbd/names.js'
import {BmcSchema, nextFreeIp, type Inventory, type InventoryBmc, type InventoryNode} from './inventory.js'

export interface NodeFields {
  ip?: string
  mac?: string | null
  image?: string
  kernelArgs?: string
  /** The server that holds the node's root, on a site with several. */
  server?: string
  /** BMC fields to set (merged with the node's), or null to drop its BMC. */
  bmc?: Partial<InventoryBmc> | null
}

/** The flag of each BMC field, for refusals. */
const BMC_FLAGS: Record<string, string> = {driver: '--bmc-driver', address: '--bmc', user: '--bmc-user', cipher: '--bmc-cipher', system: '--bmc-system', ca: '--bmc-ca', insecure: '--bmc-insecure'}

/** The node's BMC after a change: the given fields over its own, checked as the inventory checks them. */
function mergedBmc(name: string, existing: InventoryBmc | undefined, fields: Partial<InventoryBmc>): InventoryBmc {
  const given = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined))
  const merged: Record<string, unknown> = {...existing, ...given}
  if (merged.address === undefined) throw new UserError(`--bmc: ${name} has no BMC yet; give its address too (--bmc ADDR --bmc-user USER)`)
  if (merged.user === undefined) throw new UserError(`--bmc-user: required with a new BMC (the user pxeroot logs in as)`)
  // Settings of the other driver would be ignored silently: a changed driver drops them.
  if (merged.driver === 'ipmi' || merged.driver === undefined) for (const k of ['system', 'ca', 'insecure'] as const) if (fields[k] === undefined) delete merged[k]
  if (merged.driver === 'redfish' && fields.cipher === undefined) delete merged.cipher
  const parsed = BmcSchema.safeParse(merged)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new UserError(`${BMC_FLAGS[String(issue.path[0])] ?? '--bmc'}: ${issue.message}`)
  }
  const wrong = (Object.keys(fields) as (keyof InventoryBmc)[]).find((k) => fields[k] !== undefined && (parsed.data.driver === 'ipmi' ? ['system', 'ca', 'insecure'] : ['cipher']).includes(k))
  if (wrong) throw new UserError(`${BMC_FLAGS[wrong]}: only for a ${parsed.data.driver === 'ipmi' ? 'Redfish' : 'IPMI'} BMC (--bmc-driver ${parsed.data.driver === 'ipmi' ? 'redfish' : 'ipmi'})`)
  return parsed.data
}

function checkedFields(fields: NodeFields): NodeFields {
  if (fields.ip !== undefined && !isIPv4(fields.ip)) throw new UserError(`--ip: "${fields.ip}" is not an IPv4 address; write it as 192.168.0.201`)
  let mac = fields.mac
  if (typeof mac === 'string') {
    const checked = checkMac(mac)
    if (checked.problem) throw new UserError(`--mac: ${checked.problem}`)
    mac = checked.mac
  }
  if (fields.image !== undefined && !REVISION_REF.test(fields.image)) throw new UserError(`--image: "${fields.image}" is not an image revision; write it as NAME@N, e.g. debian-bookworm@1`)
  if (fields.kernelArgs !== undefined && /[\r\n]/.test(fields.kernelArgs)) throw new UserError('--kernel-args: must be on one line')
  return {...fields, mac}
}

/** The inventory with one node added; its address is the next free one of the node range unless given. */
export function addNode(site: SiteModel, inventory: Inventory, name: string, fields: NodeFields): Inventory {
  if (inventory.nodes.some((n) => n.name === name)) throw new UserError(`node ${name} already exists; change it with "pxeroot nodes set ${name}"`)
  // A node's root and key live in an RBD namespace of its name: this one is the revisions', which its key could then write.
  if (site.storage.backend === 'rbd' && name === REVISIONS_NAMESPACE) throw new UserError(`node name ${name}: on an rbd site that is the pool's namespace of the image revisions`, 'choose another name')
  const f = checkedFields(fields)
  const ip = f.ip ?? nextFreeIp(site, inventory)
  if (!ip) throw new UserError(`nodes.range ${site.nodes.range} has no free address left; widen it in the site file or give --ip`)
  // On a site with several servers a new node's root is this server's, unless another is named.
  const server = f.server ?? site.self
  const node: InventoryNode = {name, ip, ...(f.mac ? {mac: f.mac} : {}), ...(f.image ? {image: f.image} : {}), ...(f.kernelArgs ? {kernelArgs: f.kernelArgs} : {}), ...(server ? {server} : {})}
  return {nodes: [...inventory.nodes, node]}
}

export function setNode(inventory: Inventory, name: string, fields: NodeFields): Inventory {
  const existing = inventory.nodes.find((n) => n.name === name)
  if (!existing) throw new UserError(`no node named ${name}; see "pxeroot nodes list"`)
  const f = checkedFields(fields)
  const updated: InventoryNode = {...existing}
  if (f.ip !== undefined) updated.ip = f.ip
  if (f.mac === null) delete updated.mac
  else if (f.mac !== undefined) updated.mac = f.mac
  if (f.image !== undefined) updated.image = f.image
  if (f.server !== undefined) updated.server = f.server
  if (f.kernelArgs !== undefined) {
    if (f.kernelArgs === '') delete updated.kernelArgs
    else updated.kernelArgs = f.kernelArgs
  }
  if (f.bmc === null) delete updated.bmc
  else if (f.bmc !== undefined) updated.bmc = mergedBmc(name, existing.bmc, f.bmc)
  return {nodes: inventory.nodes.map((n) => (n.name === name ? updated : n))}
}

export function removeNode(inventory: Inventory, name: string): Inventory {
  if (!inventory.nodes.some((n) => n.name === name)) throw new UserError(`no node named ${name}; see "pxeroot nodes list"`)
  return {nodes: inventory.nodes.filter((n) => n.name !== name)}
}
