import {type Context} from '../system/context.js'
import {type SiteModel} from '../config/site.js'
import {UserError} from '../errors.js'
import {currentRevision, nodeRootDir, parseRevisionRef} from '../images/layout.js'
import {type Inventory, type InventoryNode} from '../inventory/inventory.js'
import {type CloneMethod, type RootSize} from '../storage/backend.js'
import {previousRootName} from '../storage/names.js'
import {withStorage} from '../storage/registry.js'
import {cloneRecordOf} from './record.js'

/** What `nodes list` shows about a node's root (functions for the lead's listing). */
export interface NodeRootInfo {
  root: string
  exists: boolean
  method?: CloneMethod
  /** Revisions the node is behind its image's current one (0: up to date); undefined when unknown. */
  behind?: number
  previous?: {image?: string, exists: boolean}
  /** Only when asked for: walks the tree (seconds on a full root). */
  size?: RootSize
}

export async function nodeRootInfo(ctx: Context, site: SiteModel, node: InventoryNode, options: {size?: boolean} = {}): Promise<NodeRootInfo> {
  return withStorage(ctx, site, async (storage) => {
    const exists = await storage.rootExists(node.name)
    const record = cloneRecordOf(node)
    const ref = node.image ? parseRevisionRef(node.image) : undefined
    const current = ref ? await currentRevision(ctx.root, site, ref.image) : undefined
    const info: NodeRootInfo = {root: nodeRootDir(site, node.name), exists, method: record?.method, behind: ref && current ? Math.max(0, current.revision - ref.revision) : undefined}
    if (record?.previous) info.previous = {image: record.previous.image, exists: await storage.rootExists(previousRootName(node.name))}
    if (options.size && exists) info.size = (await storage.rootSizes([node.name], {measure: true})).get(node.name)
    return info
  })
}

/**
 * Deletes a node's root and its previous root (and whatever else the storage backend kept for it)
 * for `nodes rm`. Refuses a node not in the inventory and any path outside the nodes directory (a
 * symlinked or hand-edited root). Call it after the node's export is gone (inventory saved and
 * applied), never before.
 */
export async function removeNodeRoots(ctx: Context, site: SiteModel, inventory: Inventory, name: string): Promise<string[]> {
  if (!inventory.nodes.some((n) => n.name === name)) throw new UserError(`NODE: ${name} is not in the inventory; pxeroot removes only roots of nodes it knows`, 'see "pxeroot nodes list"')
  return withStorage(ctx, site, (storage) => storage.removeNode(name))
}
