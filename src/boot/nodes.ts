import {nodeExportId} from '../config/export-ids.js'
import {type SiteModel} from '../config/site.js'
import {REVISION_ARG} from '../images/boot-report.js'
import {bootFiles, currentRevision, formatRevisionRef, nodeRootDir, parseRevisionRef, type RevisionRef} from '../images/layout.js'
import {byName, type Inventory, type InventoryNode} from '../inventory/inventory.js'
import {type RootBoot} from '../storage/backend.js'
import {withStorage} from '../storage/registry.js'
import {type Context} from '../system/context.js'
import {type BootNode} from './model.js'
import {rbdRootArgs} from './rbd-root.js'

/** The NFS-root part of a node's command line (`server`: the address of the server that exports it). initramfs-tools mounts / with klibc nfsmount, which speaks NFS v2/v3 only. */
export function nfsrootArgs(server: string, rootPath: string): string {
  return `root=/dev/nfs nfsroot=${server}:${rootPath},vers=3,tcp ip=dhcp rw`
}

/** The root part of a node's command line, as its storage says the node reaches its root (an NFS root: from `server`). */
export function rootArgs(server: string, root: RootBoot): string {
  return root.kind === 'nfs' ? nfsrootArgs(server, root.path) : rbdRootArgs(root)
}

/**
 * The server that holds a node's NFS root and exports it: on a site with several servers the
 * node's `server` (default: the first server), whichever server answered the node's DHCP
 * request; on a site with one, that one. An NFS root lives on one server's storage.
 */
export function rootServer(site: SiteModel, node: Pick<InventoryNode, 'server'>): {name?: string, address: string} {
  if (site.servers.length === 0) return {address: site.server}
  const s = site.servers.find((x) => x.name === node.server) ?? site.servers[0]
  return {name: s.name, address: s.address}
}

/**
 * The revision a node is told it boots, on its kernel command line: the image's boot-report unit
 * (images/boot-report.ts) writes it with the boot id into the node's own root, which is how the
 * server knows the node came up on that revision (status, rollout). Absent while a node has no
 * revision to boot.
 */
export function revisionArg(ref: RevisionRef | undefined): string | undefined {
  return ref ? `${REVISION_ARG}=${formatRevisionRef(ref)}` : undefined
}

/**
 * Each node resolved to the files it boots: the revision its root came from, or the site's
 * default image's current revision for a node that has no root yet (its boot files may not
 * exist; doctor says so), and how it reaches its root (from the site's storage backend).
 */
export async function bootNodes(ctx: Context, site: SiteModel, inventory: Inventory): Promise<BootNode[]> {
  const roots = await withStorage(ctx, site, (storage) => storage.rootBoot(inventory.nodes.map((n) => n.name)))
  return bootNodesFor(site, inventory, await currentRevision(ctx.root, site, site.boot.image), roots)
}

/** Pure: the boot model of every node, given the default image's current revision (if any) and
 * what the storage says of each root (default: an NFS root under paths.nodes). */
export function bootNodesFor(site: SiteModel, inventory: Inventory, fallback?: RevisionRef, roots?: ReadonlyMap<string, RootBoot>): BootNode[] {
  return [...inventory.nodes].sort(byName).map((node) => {
    const ref = (node.image ? parseRevisionRef(node.image) : undefined) ?? fallback
    const files = ref ? bootFiles(ref) : {kernel: `pxeroot/${site.boot.image}/current/vmlinuz`, initrd: `pxeroot/${site.boot.image}/current/initrd.img`}
    const rootPath = nodeRootDir(site, node.name)
    const root = roots?.get(node.name) ?? {kind: 'nfs', path: rootPath}
    const server = rootServer(site, node)
    const kernelArgs = [site.boot.kernelArgs, node.kernelArgs ?? ''].map((s) => s.trim()).filter(Boolean).join(' ')
    return {
      name: node.name,
      ip: node.ip,
      mac: node.mac,
      rootPath,
      root,
      revision: ref,
      ...files,
      kernelArgs,
      cmdline: [rootArgs(server.address, root), revisionArg(ref), kernelArgs].filter(Boolean).join(' '),
      exportId: nodeExportId(node.ip),
      ...(server.name ? {server: server.name} : {}),
      exportedHere: root.kind === 'nfs' && (server.name === undefined || server.name === site.self),
    }
  })
}

/** The nodes whose root this server exports over NFS (on a site with several servers, only the roots it holds). */
export function nfsNodes<T extends Pick<BootNode, 'exportedHere'>>(nodes: readonly T[]): T[] {
  return nodes.filter((n) => n.exportedHere)
}
