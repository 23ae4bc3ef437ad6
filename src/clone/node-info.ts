import {promises as fs} from 'node:fs'
import path from 'node:path'

import {type Context} from '../system/context.js'
import {type SiteModel} from '../config/site.js'
import {UserError} from '../errors.js'
import {currentRevision, nodeRootDir, parseRevisionRef} from '../images/layout.js'
import {type Inventory, type InventoryNode} from '../inventory/inventory.js'
import {rootSize, type RootSize} from './disk.js'
import {type CloneMethod} from './method.js'
import {cloneRecordOf, previousRootName} from './record.js'
import {removeRoot} from './remove.js'

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
  const root = nodeRootDir(site, node.name)
  const disk = ctx.root.resolve(root)
  const exists = await fs.lstat(disk).then((s) => s.isDirectory(), () => false)
  const record = cloneRecordOf(node)
  const ref = node.image ? parseRevisionRef(node.image) : undefined
  const current = ref ? await currentRevision(ctx.root, site, ref.image) : undefined
  const info: NodeRootInfo = {root, exists, method: record?.method, behind: ref && current ? Math.max(0, current.revision - ref.revision) : undefined}
  if (record?.previous) {
    info.previous = {image: record.previous.image, exists: await fs.lstat(path.join(path.dirname(disk), previousRootName(node.name))).then(() => true, () => false)}
  }
  if (options.size && exists) info.size = await rootSize(ctx.runner, disk)
  return info
}

/**
 * Deletes a node's root and its previous root for `nodes rm`. Refuses a node not in the
 * inventory and any path outside the nodes directory (a symlinked or hand-edited root).
 * Call it after the node's export is gone (inventory saved and applied), never before.
 */
export async function removeNodeRoots(ctx: Context, site: SiteModel, inventory: Inventory, name: string): Promise<string[]> {
  if (!inventory.nodes.some((n) => n.name === name)) throw new UserError(`NODE: ${name} is not in the inventory; pxeroot removes only roots of nodes it knows`, 'see "pxeroot nodes list"')
  const nodesDir = ctx.root.resolve(site.paths.nodes)
  const removed: string[] = []
  for (const entry of [name, previousRootName(name)]) {
    const p = path.join(nodesDir, entry)
    const st = await fs.lstat(p).catch(() => undefined)
    if (!st) continue
    if (st.isSymbolicLink()) throw new UserError(`${path.join(site.paths.nodes, entry)} is a symlink; pxeroot removes only real directories inside ${site.paths.nodes}`)
    await removeRoot(ctx, nodesDir, p)
    removed.push(path.posix.join(site.paths.nodes, entry))
  }
  return removed
}
