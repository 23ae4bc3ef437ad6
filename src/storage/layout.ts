import {promises as fs} from 'node:fs'

import {PreconditionError, UserError} from '../errors.js'
import {type Root} from '../system/paths.js'

/**
 * The btrfs storage `pxeroot storage prepare` makes for paths.images and paths.nodes (host
 * paths): one btrfs filesystem, on a block device or a sparse image file, mounted where pxeroot
 * owns it, with one subvolume for each, bound at the site's paths. Revisions and node roots then
 * share one filesystem: revisions are read-only subvolumes and clones are writable snapshots.
 */
export const STORAGE = {
  /** Where the filesystem itself is mounted. */
  mountPoint: '/srv/pxeroot-storage',
  /** Its label: how pxeroot knows a filesystem it made. */
  label: 'pxeroot',
  /** What was prepared (and which unit files pxeroot owns for it). */
  stateFile: '/var/lib/pxeroot/storage.json',
} as const

/** The subvolumes, by the site path each is bound at. */
export const SUBVOLUMES = ['images', 'nodes'] as const
export type Subvolume = typeof SUBVOLUMES[number]

export interface StorageTarget {
  kind: 'device' | 'file'
  /** A block device (the host's, never under --root) or the host path of an image file. */
  path: string
}

export interface StorageState {
  target: StorageTarget
  /** The filesystem's UUID (what a device's unit mounts by). */
  uuid: string
  mountPoint: string
  /** The host path each subvolume is bound at. */
  binds: Record<Subvolume, string>
  /** The unit files written for it (owned: removed when no longer rendered). */
  units: string[]
}

export async function readStorageState(root: Root): Promise<StorageState | undefined> {
  const text = await fs.readFile(root.resolve(STORAGE.stateFile), 'utf8').catch(() => undefined)
  if (text === undefined) return undefined
  try {
    const data = JSON.parse(text) as StorageState
    if (!data.target?.path || !data.uuid) throw new Error('missing target or uuid')
    return {...data, units: Array.isArray(data.units) ? data.units : []}
  } catch (error) {
    throw new PreconditionError(`${STORAGE.stateFile} is damaged (${(error as Error).message}), so pxeroot cannot tell which storage it prepared; nothing was changed`,
      'restore it, or remove it and run "pxeroot storage prepare" again on the same target')
  }
}

const UNITS: Record<string, number> = {'': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40}

/** "20G", "512M", "1.5T", "20GiB", "4096": bytes (binary units); UserError naming --size otherwise. */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(text)
  if (!m) throw new UserError(`--size: "${text}" is not a size`, 'give it like 20G, 512M or 1T')
  const bytes = Math.floor(Number(m[1]) * UNITS[m[2].toLowerCase()])
  if (bytes < MIN_SIZE) throw new UserError(`--size: ${text} is too small for a btrfs holding images and nodes`, 'give at least 1G (an image revision takes about 1G; 20G holds several and many snapshot clones)')
  return bytes
}

/** mkfs.btrfs needs ~110 MiB; anything under 1 GiB cannot hold one image revision. */
const MIN_SIZE = 2 ** 30
