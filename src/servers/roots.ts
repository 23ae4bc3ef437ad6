import {rootServer} from '../boot/nodes.js'
import {type SiteModel} from '../config/site.js'
import {type Inventory} from '../inventory/inventory.js'

/** The nodes whose roots each server holds. */
export function rootsByServer(site: SiteModel, inventory: Inventory): Map<string, string[]> {
  const out = new Map<string, string[]>()
  for (const node of inventory.nodes) {
    const name = rootServer(site, node).name
    if (name) out.set(name, [...out.get(name) ?? [], node.name])
  }
  return out
}
