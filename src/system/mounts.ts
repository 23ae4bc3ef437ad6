import {promises as fs} from 'node:fs'
import path from 'node:path'

import {PreconditionError} from '../errors.js'
import {type Runner} from './runner.js'

const BTRFS_SUPER_MAGIC = 0x91_23_68_3E
const STEP_MS = 60_000

/** One line of /proc/self/mountinfo, with the escapes (\040 for space...) decoded. */
export interface MountEntry {
  mountPoint: string
  fsType: string
  source: string
  /** "major:minor" of the mounted filesystem (btrfs subvolume mounts each get their own). */
  device: string
  /** The path of the mounted tree inside its filesystem ("/" or a subvolume / bind source). */
  fsRoot: string
}

function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)))
}

/** Parses mountinfo text; pure. */
export function parseMountInfo(text: string): MountEntry[] {
  const out: MountEntry[] = []
  for (const line of text.split('\n')) {
    if (!line) continue
    const [left, right] = line.split(' - ')
    const l = left.split(' ')
    const r = (right ?? '').split(' ')
    out.push({mountPoint: unescape(l[4]), fsRoot: unescape(l[3]), device: l[2], fsType: r[0], source: unescape(r[1] ?? '')})
  }
  return out
}

/** Mount points from mountinfo text; pure. */
export function parseMountPoints(mountinfo: string): string[] {
  return parseMountInfo(mountinfo).map((m) => m.mountPoint)
}

export async function readMounts(): Promise<MountEntry[]> {
  return parseMountInfo(await fs.readFile('/proc/self/mountinfo', 'utf8'))
}

function contains(dir: string, p: string): boolean {
  const rel = path.relative(dir, p)
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel))
}

/** The mount that holds an existing path (the longest mount point containing its real path). */
export async function mountOf(p: string, mounts?: MountEntry[]): Promise<MountEntry> {
  const real = await fs.realpath(p)
  const all = mounts ?? await readMounts()
  let best: MountEntry | undefined
  for (const m of all) {
    if (contains(m.mountPoint, real) && (!best || m.mountPoint.length >= best.mountPoint.length)) best = m
  }
  if (!best) throw new Error(`internal: no mount holds ${p}`)
  return best
}

/** Mount points at or below `dir` in this process's mount namespace, deepest first. */
export async function mountsUnder(dir: string, mounts?: MountEntry[]): Promise<string[]> {
  const real = await fs.realpath(dir).catch(() => path.resolve(dir))
  return [...new Set((mounts ?? await readMounts()).map((m) => m.mountPoint).filter((mp) => contains(real, mp)))]
    .sort((a, b) => b.length - a.length)
}

/** Whether `dir` itself is a mount point. */
export async function isMountPoint(dir: string, mounts?: MountEntry[]): Promise<boolean> {
  const real = await fs.realpath(dir).catch(() => undefined)
  return real !== undefined && (mounts ?? await readMounts()).some((m) => m.mountPoint === real)
}

export async function fsTypeOf(p: string): Promise<string> {
  return (await mountOf(p)).fsType
}

export async function isBtrfs(dir: string): Promise<boolean> {
  const st = await fs.statfs(dir).catch(() => undefined)
  return st?.type === BTRFS_SUPER_MAGIC
}

/** A btrfs subvolume's top directory always has inode number 256 (BTRFS_FIRST_FREE_OBJECTID). */
export async function isSubvolume(dir: string): Promise<boolean> {
  const st = await fs.lstat(dir).catch(() => undefined)
  return Boolean(st?.isDirectory() && st.ino === 256 && await isBtrfs(dir))
}

/** Whether two paths live on the same filesystem (btrfs subvolumes of one filesystem count as one). */
export async function sameFilesystem(a: string, b: string): Promise<boolean> {
  const mounts = await readMounts()
  const [ma, mb] = [await mountOf(a, mounts), await mountOf(b, mounts)]
  if (ma.fsType !== mb.fsType) return false
  if (ma.fsType === 'btrfs') return ma.source === mb.source
  const [sa, sb] = [await fs.stat(a), await fs.stat(b)]
  return sa.dev === sb.dev
}

export interface MountOptions {
  signal?: AbortSignal
  /** Run inside another mount namespace: the argv prefix that enters it (nsenter ...). */
  enter?: readonly string[]
}

async function run(runner: Runner, argv: readonly string[], options: MountOptions): Promise<void> {
  const full = [...(options.enter ?? []), ...argv]
  await runner.run(full[0], full.slice(1), {timeout: STEP_MS, cancelSignal: options.signal})
}

/** mount -t TYPE -o OPTIONS SOURCE TARGET. */
export async function mountFs(runner: Runner, type: string, source: string, target: string, mountOptions: string | undefined, options: MountOptions = {}): Promise<void> {
  await run(runner, ['mount', '-t', type, ...(mountOptions ? ['-o', mountOptions] : []), source, target], options)
}

/** mount --bind (or --rbind) SOURCE TARGET. */
export async function bindMount(runner: Runner, source: string, target: string, options: MountOptions & {recursive?: boolean, readOnly?: boolean} = {}): Promise<void> {
  await run(runner, ['mount', options.recursive ? '--rbind' : '--bind', source, target], options)
  if (options.readOnly) await run(runner, ['mount', '-o', 'remount,bind,ro', target], options)
}

export async function makePrivate(runner: Runner, target: string, options: MountOptions = {}): Promise<void> {
  await run(runner, ['mount', '--make-private', target], options)
}

export async function unmount(runner: Runner, target: string, options: MountOptions & {lazy?: boolean} = {}): Promise<void> {
  await run(runner, ['umount', ...(options.lazy ? ['-l'] : []), target], options)
}

/** Unmounts everything at or below `dir`: recursive first, lazy as the fallback; throws if anything stays. */
export async function unmountUnder(runner: Runner, dir: string): Promise<string[]> {
  const found = await mountsUnder(dir)
  let left = found
  // Mounts can be stacked on one mount point: repeat (bounded) until nothing is left or nothing moves.
  for (let round = 0; round < 8 && left.length > 0; round++) {
    for (const mp of left) {
      const r = await runner.run('umount', ['-R', mp], {reject: false, timeout: STEP_MS})
      if (r.exitCode !== 0 && (await mountsUnder(mp)).length > 0) await runner.run('umount', ['-R', '-l', mp], {reject: false, timeout: STEP_MS})
    }
    const now = await mountsUnder(dir)
    if (now.length === left.length && now.every((m, i) => m === left[i]) && round > 0) break
    left = now
  }
  left = await mountsUnder(dir)
  if (left.length > 0) {
    throw new PreconditionError(`${left.join(', ')} still mounted under ${dir}; refusing to delete through a mount point`, `unmount ${left[0]} by hand and run the command again`)
  }
  return found
}

/**
 * The st_dev of the tree mounted at each mount point of the given filesystem types (stat of the
 * mount point, which is what NFS-Ganesha matches an export's st_dev against), by device number.
 * Only local filesystem types are asked for, so a hung network mount is never stat'ed.
 */
export async function mountedDevices(types: readonly string[], mounts?: MountEntry[]): Promise<Map<number, string>> {
  const out = new Map<number, string>()
  for (const m of mounts ?? await readMounts()) {
    if (!types.includes(m.fsType)) continue
    const st = await fs.stat(m.mountPoint).catch(() => undefined)
    if (st && !out.has(st.dev)) out.set(st.dev, m.mountPoint)
  }
  return out
}

/**
 * The mounts stacked exactly at `dir` that bind a tree of the filesystem its parent lives on: a
 * bind of a directory (a node root) onto itself. A foreign filesystem mounted there is not one.
 */
export async function selfBindsAt(dir: string, mounts?: MountEntry[]): Promise<MountEntry[]> {
  const real = await fs.realpath(dir).catch(() => undefined)
  if (real === undefined || real === '/') return []
  const all = mounts ?? await readMounts()
  const parent = await mountOf(path.dirname(real), all)
  return all.filter((m) => m.mountPoint === real && m.device === parent.device && m.fsType === parent.fsType)
}

/**
 * Undoes self-binds at `dir` (all of them, if stacked), so the directory can be renamed or
 * deleted. An NFS server may hold the bound tree open (Ganesha keeps a descriptor on each
 * export's root), which makes a plain umount fail with EBUSY: the mount is then detached lazily,
 * which takes it out of the mount table at once. Returns how many were released. Nothing is
 * released while any other mount sits inside `dir` (a lazy detach would take it along unseen):
 * the caller's refusal of mounts then applies, and so to a foreign mount at `dir` itself.
 */
export async function releaseSelfBinds(runner: Runner, dir: string, options: MountOptions = {}): Promise<number> {
  const real = await fs.realpath(dir).catch(() => undefined)
  if (real === undefined || (await mountsUnder(real)).some((mp) => mp !== real)) return 0
  let released = 0
  for (let round = 0; round < 8; round++) {
    if ((await selfBindsAt(dir)).length === 0) break
    const r = await runner.run('umount', [dir], {reject: false, timeout: STEP_MS, cancelSignal: options.signal})
    if (r.exitCode !== 0) await unmount(runner, dir, {...options, lazy: true})
    released++
  }
  return released
}
