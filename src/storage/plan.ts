import {UserError} from '../errors.js'
import {type StorageFacts} from './inspect.js'
import {STORAGE, SUBVOLUMES, type StorageTarget, type Subvolume} from './layout.js'

/** One change storage prepare makes, in order; `says` is how it is shown (and in a dry run). */
export type StorageStep =
  | {kind: 'create-file', bytes: number, says: string}
  | {kind: 'grow-file', bytes: number, says: string}
  | {kind: 'mkfs', force: boolean, says: string}
  | {kind: 'mount', says: string}
  | {kind: 'subvolume', name: Subvolume, says: string}
  | {kind: 'bind', name: Subvolume, at: string, says: string}

export interface StorageRequest {
  target: StorageTarget
  /** Size of an image file to create (or grow an empty one to). */
  bytes?: number
  force: boolean
}

const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(bytes % 2 ** 30 === 0 ? 0 : 1)} GiB`

/**
 * What storage prepare has to do, from what the disk says; pure. Every refusal is raised here,
 * before the first change: a target that holds another filesystem (unless forced) or is
 * mounted elsewhere, a mount point or site path taken by something else, a site path that
 * already holds data. An empty list means the storage is prepared as asked.
 */
export function planStorage(request: StorageRequest, facts: StorageFacts): StorageStep[] {
  const {target} = request
  const t = facts.target
  const what = target.kind === 'device' ? `DEVICE ${target.path}` : `--file ${target.path}`
  if (facts.state && (facts.state.target.kind !== target.kind || facts.state.target.path !== target.path)) {
    throw new UserError(`storage is already prepared on ${facts.state.target.kind} ${facts.state.target.path} (${STORAGE.stateFile}); pxeroot prepares one storage per server`,
      `run "pxeroot storage prepare ${facts.state.target.kind === 'file' ? '--file ' : ''}${facts.state.target.path}" to check it, or move the data and remove ${STORAGE.stateFile} first`)
  }
  const steps: StorageStep[] = []

  // The target and its filesystem.
  if (target.kind === 'device' && !t.isBlock) throw new UserError(`${what}: ${t.exists ? 'is not a block device' : 'does not exist'}`, 'name a disk or partition such as /dev/sdb, or use --file PATH --size 20G')
  if (target.kind === 'file' && t.exists && !t.isFile) throw new UserError(`${what}: exists and is not a regular file`, 'name a new file, e.g. --file /var/lib/pxeroot/storage.img --size 20G')
  const btrfs = t.signatures.filter((s) => s.type === 'btrfs')
  const ours = t.signatures.length === 1 && btrfs.length === 1 && btrfs[0].label === STORAGE.label && (!facts.state || facts.state.uuid === btrfs[0].uuid)
  // Mounted at pxeroot's mount point, the binds of its subvolumes (site paths, node roots) are its own.
  if (!facts.mountPoint.ours && t.mountedAt.length > 0) throw new UserError(`${what}: ${ours ? 'its filesystem' : 'it'} is mounted at ${t.mountedAt.join(', ')}`, 'unmount it first; pxeroot mounts its storage itself')
  if (!ours && t.signatures.length > 0 && !request.force) {
    const found = t.signatures.map((s) => `${s.type}${s.label ? ` "${s.label}"` : ''}`).join(', ')
    throw new UserError(`${what} already holds ${found}; nothing was changed`, 'pick an empty disk or file, or pass --force to destroy what is on it')
  }
  if (target.kind === 'file' && !t.exists) {
    if (request.bytes === undefined) throw new UserError(`--file ${target.path} does not exist and --size was not given`, 'add --size, e.g. --size 20G (the file is sparse: blocks are used as written)')
    steps.push({kind: 'create-file', bytes: request.bytes, says: `create ${target.path}, a sparse file of ${gib(request.bytes)}`})
  } else if (target.kind === 'file' && !ours && request.bytes !== undefined && t.size < request.bytes) {
    steps.push({kind: 'grow-file', bytes: request.bytes, says: `grow ${target.path} to ${gib(request.bytes)} (sparse)`})
  }
  const fresh = !ours
  if (fresh) steps.push({kind: 'mkfs', force: t.signatures.length > 0, says: `mkfs.btrfs -L ${STORAGE.label}${t.signatures.length > 0 ? ' -f' : ''} ${target.path}${t.signatures.length > 0 ? ' (--force: destroys what is on it)' : ''}`})

  // Where pxeroot mounts it.
  const mp = facts.mountPoint
  if (!mp.ours) {
    if (mp.mount) throw new UserError(`${STORAGE.mountPoint} is already a mount point (${mp.mount.fsType} ${mp.mount.source})`, `unmount it first; pxeroot mounts its storage there`)
    if (mp.exists && (!mp.isDir || mp.entries > 0)) throw new UserError(`${STORAGE.mountPoint} ${mp.isDir ? 'is not empty' : 'is not a directory'}`, 'move what is there away; pxeroot mounts its storage there')
    steps.push({kind: 'mount', says: `mount ${target.path} at ${STORAGE.mountPoint}${target.kind === 'file' ? ' (loop)' : ''}`})
  }
  for (const sub of SUBVOLUMES) {
    if (fresh || !mp.ours || !facts.binds[sub].ours) steps.push({kind: 'subvolume', name: sub, says: `btrfs subvolume create ${STORAGE.mountPoint}/${sub} (unless there)`})
  }

  // The site's paths.
  for (const sub of SUBVOLUMES) {
    const b = facts.binds[sub]
    if (b.ours) continue
    const field = `paths.${sub}`
    if (b.mount) throw new UserError(`${field} ${b.hostPath} is already a mount point (${b.mount.fsType} ${b.mount.source})`, `unmount it, or point ${field} at an empty directory in the site file`)
    if (b.exists && !b.isDir) throw new UserError(`${field} ${b.hostPath} is not a directory`, `remove it, or point ${field} at an empty directory in the site file`)
    if (b.entries > 0) {
      throw new UserError(`${field} ${b.hostPath} already holds data (${b.entries} entr${b.entries === 1 ? 'y' : 'ies'}); storage prepare puts an empty btrfs subvolume there and hides nothing; nothing was changed`,
        `move its contents away (and back in after prepare: they belong on the new storage), or point ${field} at an empty directory in the site file`)
    }
    steps.push({kind: 'bind', name: sub, at: b.hostPath, says: `mount --bind ${STORAGE.mountPoint}/${sub} ${b.hostPath}`})
  }
  return steps
}
