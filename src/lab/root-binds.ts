import {type BootNode} from '../boot/model.js'
import {selfBind, selfBindRoots} from '../backends/nfs/root-mounts.js'
import {type Context} from '../system/context.js'

/**
 * The node roots NFS-Ganesha can export only as mount points (btrfs subvolumes: see
 * backends/nfs/root-mounts.ts), bound onto themselves inside the lab's private mount namespace.
 * On the server, apply has made these binds already (the namespace starts as a copy of the
 * host's mounts, so nothing is stacked); under --root apply makes no mounts, and these are the
 * only ones. They vanish with the namespace. Returns the host paths bound.
 */
export async function bindRootsInLab(ctx: Context, nodes: readonly BootNode[], enterMounts: readonly string[]): Promise<string[]> {
  const roots = await selfBindRoots(ctx.root, nodes)
  const bound = await selfBind(ctx.runner, roots.map((p) => ctx.root.resolve(p)), {enter: enterMounts, signal: ctx.signal})
  return roots.filter((p) => bound.includes(ctx.root.resolve(p)))
}
