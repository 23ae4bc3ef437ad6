import {nodeExportId} from '../config/export-ids.js'
import {type SiteModel} from '../config/site.js'
import {bootFiles, currentRevision, nodeRootDir, parseRevisionRef, type RevisionRef} from '../images/layout.js'
import {byName, type Inventory, type InventoryNode} from '../inventory/inventory.js'
import {type Root} from '../system/paths.js'
import {type BootNode} from './model.js'

/** The NFS-root part of a node's command line. initramfs-tools mounts / with klibc nfsmount, which speaks NFS v2/v3 only. */
export function nfsrootArgs(server: string, rootPath: string): string {
  return `root=/dev/nfs nfsroot=${server}:${rootPath},vers=3,tcp ip=dhcp rw`
}

/**
 * The server that holds a node's root and exports it: on a site with several servers the node's
 * `server` (default: the first server), whichever server answered the node's DHCP request; on a
 * site with one, that one. An NFS root lives on one server's storage.
 */
export function rootServer(site: SiteModel, node: Pick<InventoryNode, 'server'>): {name?: string, address: string} {
  if (site.servers.length === 0) return {address: site.server}
  const s = site.servers.find((x) => x.name === node.server) ?? site.servers[0]
  return {name: s.name, address: s.address}
}

/**
 * Each node resolved to the files it boots: the revision its root came from, or the site's
 * default image's current revision for a node that has no root yet (its boot files may not
 * exist; doctor says so).
 */
export async function bootNodes(root: Root, site: SiteModel, inventory: Inventory): Promise<BootNode[]> {
  return bootNodesFor(site, inventory, await currentRevision(root, site, site.boot.image))
}

/** Pure: the boot model of every node, given the default image's current revision (if any). */
export function bootNodesFor(site: SiteModel, inventory: Inventory, fallback?: RevisionRef): BootNode[] {
  return [...inventory.nodes].sort(byName).map((node) => {
    const ref = (node.image ? parseRevisionRef(node.image) : undefined) ?? fallback
    const files = ref ? bootFiles(ref) : {kernel: `pxeroot/${site.boot.image}/current/vmlinuz`, initrd: `pxeroot/${site.boot.image}/current/initrd.img`}
    const rootPath = nodeRootDir(site, node.name)
    const server = rootServer(site, node)
    const kernelArgs = [site.boot.kernelArgs, node.kernelArgs ?? ''].map((s) => s.trim()).filter(Boolean).join(' ')
    return {
      name: node.name,
      ip: node.ip,
      mac: node.mac,
      rootPath,
      revision: ref,
      ...files,
      kernelArgs,
      cmdline: [nfsrootArgs(server.address, rootPath), kernelArgs].filter(Boolean).join(' '),
      exportId: nodeExportId(node.ip),
      ...(server.name ? {server: server.name} : {}),
      exportedHere: server.name === undefined || server.name === site.self,
    }
  })
}
