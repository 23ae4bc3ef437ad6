import {pxelinux} from '../backends/loaders/pxelinux.js'
import {bootNodes} from '../boot/nodes.js'
import {type Context} from '../system/context.js'
import {nodeRootInfo} from '../clone/node-info.js'
import {loadSite} from '../config/site-file.js'
import {mapBounded, settled} from '../system/pool.js'
import {loadInventory} from '../inventory/inventory.js'

export interface NodeRow {
  name: string
  ip: string
  mac: string | null
  binding: 'mac' | 'ip'
  image: string | null
  root: string
  rootExists: boolean
  /** How the root was cloned: btrfs, reflink, copy or rsync. */
  method: string | null
  /** Revisions behind its image's current one. */
  behind: number | null
  /** Bytes only this root holds (btrfs: exclusive extents; elsewhere allocated blocks). */
  size: number | null
  sizeKind: 'exclusive' | 'allocated' | null
  previousRoot: string | null
  pxelinux: string
  kernel: string
  initrd: string
}

export async function listNodes(ctx: Context, options: {size?: boolean} = {}): Promise<NodeRow[]> {
  const site = await loadSite(ctx.root)
  const inventory = await loadInventory(ctx.root)
  const nodes = await bootNodes(ctx.root, site, inventory)
  return settled(await mapBounded(nodes, 4, async (node): Promise<NodeRow> => {
    const entry = inventory.nodes.find((n) => n.name === node.name)!
    const info = await nodeRootInfo(ctx, site, entry, {size: options.size})
    return {
      name: node.name,
      ip: node.ip,
      mac: node.mac ?? null,
      binding: node.mac ? 'mac' : 'ip',
      image: entry.image ?? null,
      root: node.rootPath,
      rootExists: info.exists,
      method: info.method ?? null,
      behind: info.behind ?? null,
      size: info.size?.exclusive ?? null,
      sizeKind: info.size?.kind ?? null,
      previousRoot: info.previous?.exists ? `${node.rootPath}.previous (${info.previous.image ?? '?'})` : null,
      pxelinux: pxelinux.nodeFile(node),
      kernel: node.kernel,
      initrd: node.initrd,
    }
  }))
}
