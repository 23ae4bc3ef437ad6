import {nodeExportId} from '../config/export-ids.js'
import {type SiteModel} from '../config/site.js'
import {REVISION_ARG} from '../images/boot-report.js'
import {bootFiles, currentRevision, formatRevisionRef, nodeRootDir, parseRevisionRef, type RevisionRef} from '../images/layout.js'
import {byName, type Inventory} from '../inventory/inventory.js'
import {type Root} from '../system/paths.js'
import {type BootNode} from './model.js'

/** The NFS-root part of a node's command line. initramfs-tools mounts / with klibc nfsmount, which speaks NFS v2/v3 only. */
export function nfsrootArgs(site: SiteModel, rootPath: string): string {
  return `root=/dev/nfs nfsroot=${site.server}:${rootPath},vers=3,tcp ip=dhcp rw`
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
    const kernelArgs = [site.boot.kernelArgs, node.kernelArgs ?? ''].map((s) => s.trim()).filter(Boolean).join(' ')
    return {
      name: node.name,
      ip: node.ip,
      mac: node.mac,
      rootPath,
      revision: ref,
      ...files,
      kernelArgs,
      cmdline: [nfsrootArgs(site, rootPath), revisionArg(ref), kernelArgs].filter(Boolean).join(' '),
      exportId: nodeExportId(node.ip),
    }
  })
}
