import {promises as fs} from 'node:fs'
import path from 'node:path'

import {type SiteModel} from '../config/site.js'
import {signaturesOn, type Signature} from '../system/block.js'
import {readMounts, type MountEntry} from '../system/mounts.js'
import {type Root} from '../system/paths.js'
import {type Runner} from '../system/runner.js'
import {readStorageState, STORAGE, SUBVOLUMES, type StorageState, type StorageTarget, type Subvolume} from './layout.js'

/** What the disk says about the target, the mount point and the site's paths; read only. */
export interface TargetFacts {
  /** Where tools read and write it: the device, or the image file under --root. */
  disk: string
  exists: boolean
  isBlock: boolean
  isFile: boolean
  size: number
  signatures: Signature[]
  /** Mount points of the filesystem on it (through its loop device, for a file). */
  mountedAt: string[]
}

export interface DirFacts {
  hostPath: string
  disk: string
  exists: boolean
  isDir: boolean
  /** Entries in it (what "holds data" means). */
  entries: number
  /** The topmost mount exactly at it, if any. */
  mount?: MountEntry
}

export interface StorageFacts {
  target: TargetFacts
  state?: StorageState
  mountPoint: DirFacts & {ours: boolean}
  binds: Record<Subvolume, DirFacts & {ours: boolean}>
}

async function backingFile(loopDevice: string): Promise<string | undefined> {
  const name = path.basename(loopDevice)
  if (!/^loop\d+$/.test(name)) return undefined
  return (await fs.readFile(`/sys/block/${name}/loop/backing_file`, 'utf8').catch(() => '')).trim() || undefined
}

async function dirFacts(root: Root, hostPath: string, mounts: MountEntry[]): Promise<DirFacts> {
  const disk = root.resolve(hostPath)
  const st = await fs.lstat(disk).catch(() => undefined)
  const real = st ? await fs.realpath(disk).catch(() => disk) : disk
  const entries = st?.isDirectory() ? (await fs.readdir(disk).catch(() => [] as string[])).length : 0
  return {hostPath, disk, exists: st !== undefined, isDir: st?.isDirectory() ?? false, entries, mount: mounts.filter((m) => m.mountPoint === real).at(-1)}
}

export async function inspectStorage(root: Root, runner: Runner, site: SiteModel, target: StorageTarget): Promise<StorageFacts> {
  const mounts = await readMounts()
  const disk = target.kind === 'device' ? target.path : root.resolve(target.path)
  const st = await fs.stat(disk).catch(() => undefined)
  const real = st ? await fs.realpath(disk) : disk
  const mountedAt: string[] = []
  for (const m of mounts) {
    if (!m.source.startsWith('/dev/')) continue
    const source = await fs.realpath(m.source).catch(() => m.source)
    if (source === real || await backingFile(source) === real) mountedAt.push(m.mountPoint)
  }
  const facts: TargetFacts = {
    disk,
    exists: st !== undefined,
    isBlock: st?.isBlockDevice() ?? false,
    isFile: st?.isFile() ?? false,
    size: st?.size ?? 0,
    signatures: st && (st.isBlockDevice() || st.size > 0) ? await signaturesOn(runner, disk) : [],
    mountedAt,
  }
  const mp = await dirFacts(root, STORAGE.mountPoint, mounts)
  const ours = mp.mount !== undefined && mountedAt.includes(mp.mount.mountPoint)
  const bindFacts = async (sub: Subvolume) => {
    const f = await dirFacts(root, site.paths[sub], mounts)
    // Our bind: the same filesystem as the mount point's, showing the subvolume's tree.
    return {...f, ours: ours && f.mount !== undefined && f.mount.device === mp.mount!.device && f.mount.fsRoot === `/${sub}`}
  }
  const binds = Object.fromEntries(await Promise.all(SUBVOLUMES.map(async (s) => [s, await bindFacts(s)]))) as StorageFacts['binds']
  return {target: facts, state: await readStorageState(root), mountPoint: {...mp, ours}, binds}
}
