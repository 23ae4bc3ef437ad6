/**
 * What the boot renderers consume: the site plus each node resolved to the files it boots.
 * Built by src/apply/desired.ts from the site file, the inventory and the image store.
 */
export interface BootNode {
  name: string
  ip: string
  /** Lowercase, colon-separated; present when the node is bound by MAC. */
  mac?: string
  /** Host path of the node's root, exported to the node alone. */
  rootPath: string
  /** Paths relative to the tftp root. */
  kernel: string
  initrd: string
  /** Site and node extra kernel arguments, already joined. */
  kernelArgs: string
  /** Stable NFS-Ganesha Export_Id. */
  exportId: number
}
