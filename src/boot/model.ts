import {type SiteModel} from '../config/site.js'
import {type RevisionRef} from '../images/layout.js'
import {type RootBoot} from '../storage/backend.js'

/**
 * What every boot renderer consumes: each node resolved to what it boots. One model for every
 * loader, so a node's kernel, initrd and command line mean the same in its pxelinux entry, its
 * GRUB entry and its iPXE script. Built by boot/nodes.ts from the site, the inventory and the
 * image store.
 */
export interface BootNode {
  name: string
  ip: string
  /** Lowercase, colon-separated; present when the node is bound by MAC. */
  mac?: string
  /** Host path of the node's root under paths.nodes: exported to the node alone when it is an NFS root. */
  rootPath: string
  /** How the node reaches its root (an NFS export of this server, or its own RBD clone), from the storage backend. */
  root: RootBoot
  /** The image revision it boots; absent while the site's default image has none yet. */
  revision?: RevisionRef
  /** Paths relative to the tftp root (which is also what the web server serves). */
  kernel: string
  initrd: string
  /** Site and node extra kernel arguments, already joined. */
  kernelArgs: string
  /** The whole kernel command line but the initrd: the root's arguments (ip=dhcp among them), then kernelArgs. */
  cmdline: string
  /** Stable NFS-Ganesha Export_Id. */
  exportId: number
  /** On a site with several servers: the one that holds and exports its root (boot/nodes.ts: rootServer). */
  server?: string
  /** Whether the server this model is rendered for exports its root over NFS (every NFS root on a site with one server; on a site with several, those it holds). */
  exportedHere: boolean
}

/** The boot file DHCP hands each kind of client; set from the loaders the site enables. */
export interface DhcpBoot {
  /** Legacy BIOS PXE (option 93 = 0): a file in the tftp root, when a BIOS loader is enabled. */
  bios?: string
  /** UEFI x64 (option 93 = 7, or 9 per the RFC 4578 errata), when a UEFI loader is enabled. */
  uefi?: string
  /** iPXE clients (DHCP user class "iPXE", whatever the firmware), with boot.transport http: the URL
   * of the script that picks their node. iPXE asks DHCP again once loaded; this answer ends the chain. */
  ipxe?: string
}

/** Everything the renderers of one apply see. */
export interface BootModel {
  site: SiteModel
  nodes: readonly BootNode[]
  dhcpBoot: DhcpBoot
  /**
   * Node roots (host paths) that are no mount point an NFS server could find in the mount table:
   * btrfs subvolumes, which NFS-Ganesha can export only once bound onto themselves (see
   * backends/nfs/root-mounts.ts). Read from the disk with the rest of the desired state.
   */
  selfBinds?: readonly string[]
  /** An rbd gateway's node roots (storage.rbd.mode: gateway) this server attaches and exports: the
   * nodes whose clone exists. Read from the cluster with the rest of the desired state. */
  gatewayRoots?: readonly string[]
  /** The state of the site this model renders (servers/record.ts: siteVersion): what a server of several publishes it rendered. */
  siteVersion?: string
}
