import {type SiteModel} from '../config/site.js'
import {UserError} from '../errors.js'
import {nextFreeIp, nodeName, type Inventory, type InventoryNode} from '../inventory/inventory.js'

export interface PlannedClone {
  name: string
  ip: string
  /** The inventory entry this node already has (added by `nodes add` without a root), if any. */
  entry?: InventoryNode
}

export interface ClonePlan {
  create: PlannedClone[]
  /** Nodes of the target set whose root already exists: left alone. */
  existing: string[]
}

/**
 * Which nodes `nodes clone N` must create so node01..nodeN all have roots: the missing ones, with
 * the next free addresses of the node range in name order. Pure; `hasRoot` says which roots exist.
 * Throws before anything is created when the range is too small or a root exists unregistered.
 */
export function planClones(site: SiteModel, inventory: Inventory, count: number, hasRoot: (name: string) => boolean): ClonePlan {
  const create: PlannedClone[] = []
  const existing: string[] = []
  const orphans: string[] = []
  let inv = inventory
  const missingIps: string[] = []
  for (let i = 1; i <= count; i++) {
    const name = nodeName(site, i)
    const entry = inv.nodes.find((n) => n.name === name)
    if (entry && hasRoot(name)) {
      existing.push(name)
      continue
    }
    if (!entry && hasRoot(name)) {
      orphans.push(name)
      continue
    }
    if (entry) {
      create.push({name, ip: entry.ip, entry})
      continue
    }
    const ip = nextFreeIp(site, inv)
    if (!ip) {
      missingIps.push(name)
      continue
    }
    create.push({name, ip})
    inv = {nodes: [...inv.nodes, {name, ip}]}
  }
  if (orphans.length > 0) {
    throw new UserError(`${site.paths.nodes}/${orphans[0]}${orphans.length > 1 ? ` (and ${orphans.length - 1} more)` : ''} exists but is not in the inventory; pxeroot will not clone over it`,
      `register it with "pxeroot nodes add ${orphans[0]}" or remove the directory`)
  }
  if (missingIps.length > 0) {
    throw new UserError(`nodes.range ${site.nodes.range} has no free address for ${missingIps.length} of the ${create.length + missingIps.length} new node(s) (${missingIps[0]}…); nothing was created`,
      'widen nodes.range in the site file or clone fewer nodes')
  }
  return {create, existing}
}
