import {type BootNode} from '../boot/model.js'
import {selfBind, selfBindRoots} from '../backends/nfs/root-mounts.js'
import {type SiteModel} from '../config/site.js'
import {nodeRootDir} from '../storage/names.js'
import {gatewayLoop} from '../storage/rbd/gateway.js'
import {type Context} from '../system/context.js'
import {mountFs} from '../system/mounts.js'

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

/**
 * An rbd gateway's root attached on the host after the lab's mount namespace was made (a takeover
 * during a failover run), mounted at its path inside that namespace too: the same loop device, so
 * the same ext4 (one superblock), where the standby's NFS-Ganesha sees it. Returns what was done.
 */
export async function gatewayRootInLab(ctx: Context, site: SiteModel, node: string, enterMounts: readonly string[]): Promise<string> {
  const loop = await gatewayLoop(ctx, site, node)
  if (!loop) throw new Error(`internal: ${node}'s root is not attached at ${nodeRootDir(site, node)}`)
  const where = ctx.root.resolve(nodeRootDir(site, node))
  await mountFs(ctx.runner, 'ext4', loop, where, undefined, {enter: enterMounts, signal: ctx.signal})
  return `lab: ${node}'s root (${loop}) mounted at ${where} in ${site.self ?? 'the server'}'s mount namespace`
}
