import {promises as fs} from 'node:fs'
import path from 'node:path'

/** One line of /proc/self/mountinfo, with the escapes (\040 for space...) decoded. */
export interface MountEntry {
  mountPoint: string
  fsType: string
  source: string
  /** "major:minor" of the mounted filesystem (btrfs subvolume mounts each get their own). */
  device: string
}

function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)))
}

export async function readMounts(): Promise<MountEntry[]> {
  const text = await fs.readFile('/proc/self/mountinfo', 'utf8')
  const out: MountEntry[] = []
  for (const line of text.split('\n')) {
    if (!line) continue
    const [left, right] = line.split(' - ')
    const l = left.split(' ')
    const r = (right ?? '').split(' ')
    out.push({mountPoint: unescape(l[4]), device: l[2], fsType: r[0], source: unescape(r[1] ?? '')})
  }
  return out
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

/** Mount points at or below a directory: never delete through one. */
export async function mountsUnder(dir: string, mounts?: MountEntry[]): Promise<string[]> {
  const real = await fs.realpath(dir).catch(() => path.resolve(dir))
  return (mounts ?? await readMounts()).map((m) => m.mountPoint).filter((mp) => contains(real, mp))
}

export async function fsTypeOf(p: string): Promise<string> {
  return (await mountOf(p)).fsType
}

/** A btrfs subvolume's top directory always has inode number 256 (BTRFS_FIRST_FREE_OBJECTID). */
export async function isBtrfsSubvolume(p: string): Promise<boolean> {
  const st = await fs.lstat(p).catch(() => undefined)
  if (!st?.isDirectory() || st.ino !== 256) return false
  return (await fsTypeOf(p)) === 'btrfs'
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
