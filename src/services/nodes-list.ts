import {pxelinux} from '../backends/loaders/pxelinux.js'
import {bootNodes} from '../boot/nodes.js'
import {cloneRecordOf} from '../clone/record.js'
import {loadSite} from '../config/site-file.js'
import {currentRevision, parseRevisionRef, type RevisionRef} from '../images/layout.js'
import {loadInventory} from '../inventory/inventory.js'
import {previousRootName} from '../storage/names.js'
import {withStorage} from '../storage/registry.js'
import {type Context} from '../system/context.js'
import {mapBounded, settled} from '../system/pool.js'

export interface NodeRow {
  name: string
  ip: string
  mac: string | null
  binding: 'mac' | 'ip'
  image: string | null
  root: string
  rootExists: boolean
  /** How the root was cloned: btrfs, reflink, copy, rsync or rbd. */
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
  /** On a site with several servers: the one that holds the root (only there does rootExists say anything). */
  server?: string
}

export interface ListOptions {
  /** Measure every root that quota groups do not size (walks each tree: seconds per root). */
  size?: boolean
}

/**
 * `nodes list`: the inventory with what the disk says of each root. No tree is walked unless asked
 * (`--sizes`): sizes come free from btrfs quota groups when quotas are on, so a listing of 1,000
 * nodes costs a few stat calls per node.
 */
export async function listNodes(ctx: Context, options: ListOptions = {}): Promise<NodeRow[]> {
  const site = await loadSite(ctx.root)
  const inventory = await loadInventory(ctx.root)
  const nodes = await bootNodes(ctx, site, inventory)
  const {present, sizes} = await withStorage(ctx, site, async (storage) => {
    const roots = await storage.listRoots()
    return {present: roots, sizes: await storage.rootSizes(nodes.filter((n) => roots.has(n.name)).map((n) => n.name), {measure: options.size ?? false})}
  })
  const currents = new Map<string, Promise<RevisionRef | undefined>>()
  const currentOf = (image: string) => {
    if (!currents.has(image)) currents.set(image, currentRevision(ctx.root, site, image))
    return currents.get(image)!
  }
  const entries = new Map(inventory.nodes.map((n) => [n.name, n]))
  return settled(await mapBounded(nodes, 16, async (node): Promise<NodeRow> => {
    const entry = entries.get(node.name)!
    const record = cloneRecordOf(entry)
    const ref = entry.image ? parseRevisionRef(entry.image) : undefined
    const current = ref ? await currentOf(ref.image) : undefined
    const exists = present.has(node.name)
    const size = sizes.get(node.name)
    const previousExists = record?.previous !== undefined && present.has(previousRootName(node.name))
    return {
      name: node.name,
      ip: node.ip,
      mac: node.mac ?? null,
      binding: node.mac ? 'mac' : 'ip',
      image: entry.image ?? null,
      root: node.rootPath,
      rootExists: exists,
      method: record?.method ?? null,
      behind: ref && current ? Math.max(0, current.revision - ref.revision) : null,
      size: size?.exclusive ?? null,
      sizeKind: size?.kind ?? null,
      previousRoot: previousExists ? `${node.rootPath}.previous (${record?.previous?.image ?? '?'})` : null,
      pxelinux: pxelinux.nodeFile(node),
      kernel: node.kernel,
      initrd: node.initrd,
      ...(node.server ? {server: node.server} : {}),
    }
  }))
}
