import {createHash} from 'node:crypto'

import {type SiteModel} from '../../config/site.js'
import {header} from '../header.js'
import {type BootNode} from '../../boot/model.js'
import {nfsNodes} from '../../boot/nodes.js'

export const NODE_EXPORT_OPTIONS = 'rw,sync,no_root_squash,no_subtree_check'

/**
 * A stable fsid for an export path. btrfs subvolumes, overlayfs and FUSE need one to be
 * exported at all, and clients keep file handles across server reboots only if it never
 * changes; deriving it from the path needs no state and never collides in practice.
 */
export function stableFsid(exportPath: string): string {
  const h = createHash('sha256').update(`pxeroot:${exportPath}`).digest('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`
}

/** /etc/exports.d/pxeroot.exports: each NFS node root to its node alone; no space before "(" ever. */
export function renderKernelExports(site: SiteModel, nodes: readonly BootNode[]): string {
  const lines = [header('#'), '']
  for (const node of nfsNodes(nodes)) {
    lines.push(`${node.rootPath} ${node.ip}(${NODE_EXPORT_OPTIONS},fsid=${stableFsid(node.rootPath)})`)
  }
  for (const extra of site.exports) {
    lines.push(`${extra.path} ${extra.clients}(${extra.options})`)
  }
  return lines.join('\n') + '\n'
}
