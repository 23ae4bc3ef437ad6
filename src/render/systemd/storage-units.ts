import path from 'node:path'

import {type StorageState} from '../../storage/layout.js'
import {dropInPath, mountUnitName, mountUnitPath, renderMountUnit, renderWantsDropIn} from './mount-unit.js'

/** The drop-in that makes local-fs.target want pxeroot's storage mounts at boot. */
export const STORAGE_DROP_IN = dropInPath('local-fs.target', 'pxeroot-storage')

/**
 * The units that bring prepared storage back after a reboot: the filesystem at its mount point
 * (a device by its UUID, which survives renumbering; an image file through a loop device), each
 * subvolume bound at its site path (systemd orders a bind after the mount its What= lies on),
 * and a drop-in making local-fs.target want them (Wants=: a missing disk does not stop the boot). Pure.
 */
export function storageUnits(state: StorageState): {path: string, content: string, mode: number}[] {
  const what = state.target.kind === 'device' ? `/dev/disk/by-uuid/${state.uuid}` : state.target.path
  const units = [
    {where: state.mountPoint, content: renderMountUnit({
      what, where: state.mountPoint, type: 'btrfs', options: state.target.kind === 'file' ? 'loop' : undefined,
      description: 'pxeroot: btrfs storage for image revisions and node roots',
      why: `The btrfs pxeroot storage prepare made on ${state.target.kind} ${state.target.path}.`,
    }, 'storage prepare')},
    ...Object.entries(state.binds).map(([sub, at]) => ({where: at, content: renderMountUnit({
      what: path.posix.join(state.mountPoint, sub), where: at, type: 'none', options: 'bind',
      description: `pxeroot: the ${sub} subvolume at ${at}`,
      why: `paths.${sub} is the subvolume ${sub} of pxeroot's btrfs storage.`,
    }, 'storage prepare')})),
  ]
  return [
    ...units.map((u) => ({path: mountUnitPath(u.where), content: u.content, mode: 0o644})),
    {path: STORAGE_DROP_IN, content: renderWantsDropIn('pxeroot\'s storage: mount it at boot.', units.map((u) => mountUnitName(u.where)), 'storage prepare'), mode: 0o644},
  ]
}
