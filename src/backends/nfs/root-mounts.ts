import {promises as fs} from 'node:fs'

import {type BootModel, type BootNode} from '../../boot/model.js'
import {dropInPath, mountUnitName, mountUnitPath, renderMountUnit, renderWantsDropIn} from '../../render/systemd/mount-unit.js'
import {type Context} from '../../system/context.js'
import {isBtrfs, mountedDevices, readMounts, selfBindsAt, bindMount, type MountOptions} from '../../system/mounts.js'
import {type Root} from '../../system/paths.js'
import {type Runner} from '../../system/runner.js'
import {type DesiredFile} from '../types.js'

/**
 * Node roots NFS-Ganesha can export. Ganesha (Debian's 4.3, 5.9 and 6.5, built without
 * libbtrfsutil) resolves an export by matching the st_dev of its path against the mount points
 * in the mount table (FSAL/localfs.c). A directory shares its filesystem's st_dev, so roots made
 * by reflink or copy export as they are; a btrfs subvolume has its own anonymous st_dev, which no
 * mount shows, so a snapshot clone is refused ("resolve_posix_filesystem(...) returned No such
 * file or directory") unless it is a mount point: a bind mount of the root onto itself.
 *
 * Keyed on that fact, not on "every root under Ganesha": only roots Ganesha cannot resolve get a
 * mount, so servers whose roots export today (ext4, xfs, rsync/reflink clones) gain no mounts,
 * no units and no unmount step in `nodes rm`/`rebase`, and a root that does not exist yet gets no
 * unit that would fail at boot. The facts are read with the rest of the desired state (apply);
 * the units are rendered from them purely, and apply makes the binds that are missing on the
 * server itself before Ganesha reloads. Under --root, the lab makes the same binds in its
 * private mount namespace (rootsNeedingSelfBind + selfBind).
 */

/** What the disk says about one node root. */
export interface RootFacts {
  /** The root's st_dev; absent when the root does not exist (yet). */
  dev?: number
  /** It is on btrfs, the only filesystem here whose subtrees carry their own st_dev. */
  btrfs: boolean
}

export interface StorageFacts {
  /** By the root's host path. */
  roots: ReadonlyMap<string, RootFacts>
  /** st_dev of the trees mounted on btrfs mount points, the roots' own self-binds left out. */
  mountedDevs: ReadonlySet<number>
}

/** Pure: the roots (host paths, in node order) Ganesha can export only as mount points. */
export function rootsNeedingSelfBind(nodes: readonly Pick<BootNode, 'rootPath'>[], facts: StorageFacts): string[] {
  return nodes.map((n) => n.rootPath).filter((p) => {
    const f = facts.roots.get(p)
    return f?.dev !== undefined && f.btrfs && !facts.mountedDevs.has(f.dev)
  })
}

/** Reads the facts rootsNeedingSelfBind decides on (stat and statfs of each root, the mount table). */
export async function readStorageFacts(root: Root, nodes: readonly Pick<BootNode, 'rootPath'>[]): Promise<StorageFacts> {
  const mounts = await readMounts()
  const roots = new Map<string, RootFacts>()
  // No btrfs mounted anywhere: no root can be a subvolume (and nothing below is stat'ed).
  if (!mounts.some((m) => m.fsType === 'btrfs')) return {roots, mountedDevs: new Set()}
  const rootDisks = new Set<string>()
  for (const node of nodes) {
    const disk = root.resolve(node.rootPath)
    const st = await fs.stat(disk).catch(() => undefined)
    if (!st?.isDirectory()) continue
    rootDisks.add(await fs.realpath(disk))
    roots.set(node.rootPath, {dev: st.dev, btrfs: await isBtrfs(disk)})
  }
  const devs = await mountedDevices(['btrfs'], mounts.filter((m) => !rootDisks.has(m.mountPoint)))
  return {roots, mountedDevs: new Set(devs.keys())}
}

/** The roots of these nodes that need a self-bind, read from the disk under `root`. */
export async function selfBindRoots(root: Root, nodes: readonly Pick<BootNode, 'rootPath'>[]): Promise<string[]> {
  return rootsNeedingSelfBind(nodes, await readStorageFacts(root, nodes))
}

/** The drop-in that makes nfs-ganesha.service wait for the roots' mounts at boot. */
export const GANESHA_ROOTS_DROP_IN = dropInPath('nfs-ganesha.service', 'pxeroot-node-roots')

/**
 * One bind-mount unit per root that needs it, and one drop-in making nfs-ganesha.service want
 * them and start after them; nothing when no root needs one. Pure.
 */
export function rootMountUnits(model: BootModel): DesiredFile[] {
  const roots = model.selfBinds ?? []
  if (roots.length === 0) return []
  const units = roots.map((where): DesiredFile => ({
    path: mountUnitPath(where),
    mode: 0o644,
    content: renderMountUnit({
      what: where,
      where,
      type: 'none',
      options: 'bind',
      description: `pxeroot: node root ${where} as a mount point for NFS-Ganesha`,
      why: 'A btrfs subvolume: NFS-Ganesha exports only mount points, so the root is bound onto itself.',
      before: ['nfs-ganesha.service'],
    }),
  }))
  const dropIn = renderWantsDropIn('The node roots NFS-Ganesha exports are btrfs subvolumes bound onto themselves: mount them first.', roots.map(mountUnitName))
  return [...units, {path: GANESHA_ROOTS_DROP_IN, content: dropIn, mode: 0o644}]
}

/** Binds each directory onto itself unless it already is (stacking nothing); returns the ones bound. */
export async function selfBind(runner: Runner, dirs: readonly string[], options: MountOptions = {}): Promise<string[]> {
  const bound: string[] = []
  for (const dir of dirs) {
    if ((await selfBindsAt(dir)).length > 0) continue
    await bindMount(runner, dir, dir, options)
    bound.push(dir)
  }
  return bound
}

/** Apply's step before Ganesha reloads, on the server itself: the binds the units describe that are missing. */
export async function bindRootsForGanesha(ctx: Context, model: BootModel): Promise<string[]> {
  const byDisk = new Map((model.selfBinds ?? []).map((p) => [ctx.root.resolve(p), p]))
  const bound = await selfBind(ctx.runner, [...byDisk.keys()], {signal: ctx.signal})
  return bound.map((disk) => `bound ${byDisk.get(disk)} onto itself (a btrfs subvolume NFS-Ganesha exports only as a mount point)`)
}
