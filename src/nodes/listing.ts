import {bootNodes} from '../apply/desired.js'
import {type Context} from '../base-command.js'
import {loadSite} from '../config/site-file.js'
import {pxelinuxFileName} from '../render/pxelinux.js'
import {exists} from '../system/files.js'
import {loadInventory} from './inventory.js'

export interface NodeRow {
  name: string
  ip: string
  mac: string | null
  binding: 'mac' | 'ip'
  image: string | null
  root: string
  rootExists: boolean
  pxelinux: string
  kernel: string
  initrd: string
}

export async function listNodes(ctx: Context): Promise<NodeRow[]> {
  const site = await loadSite(ctx.root)
  const inventory = await loadInventory(ctx.root)
  const nodes = await bootNodes(ctx.root, site, inventory)
  return Promise.all(nodes.map(async (node) => ({
    name: node.name,
    ip: node.ip,
    mac: node.mac ?? null,
    binding: node.mac ? 'mac' as const : 'ip' as const,
    image: inventory.nodes.find((n) => n.name === node.name)?.image ?? null,
    root: node.rootPath,
    rootExists: await exists(ctx.root.resolve(node.rootPath)),
    pxelinux: `pxelinux.cfg/${pxelinuxFileName(node)}`,
    kernel: node.kernel,
    initrd: node.initrd,
  })))
}
