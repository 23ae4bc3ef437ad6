import {promises as fs} from 'node:fs'
import path from 'node:path'

import {type Runner} from './runner.js'

/**
 * Block devices and image files that hold (or will hold) a filesystem: what is on them, making
 * a btrfs, creating a sparse image file. Reading signatures never writes: `wipefs --no-act`.
 */

const STEP_MS = 5 * 60_000

/** One signature found on a device or file: a filesystem, a partition table, a RAID member... */
export interface Signature {
  type: string
  offset: string
  uuid?: string
  label?: string
}

/** Every signature on `target` (a block device or a regular file), as `wipefs --no-act` finds them. */
export async function signaturesOn(runner: Runner, target: string): Promise<Signature[]> {
  const r = await runner.run('wipefs', ['--no-act', '--json', target], {timeout: 60_000})
  const text = r.stdout.trim()
  if (!text) return []
  const parsed = JSON.parse(text) as {signatures?: {type?: string, offset?: string, uuid?: string, label?: string}[]}
  return (parsed.signatures ?? []).map((s) => ({type: s.type ?? 'unknown', offset: s.offset ?? '?', uuid: s.uuid || undefined, label: s.label || undefined}))
}

/** mkfs.btrfs with a label and a UUID chosen by the caller; `force` overwrites whatever signature is there (the caller decided). */
export async function makeBtrfs(runner: Runner, target: string, label: string, force: boolean, uuid: string, signal?: AbortSignal): Promise<void> {
  await runner.run('mkfs.btrfs', ['-q', '-L', label, '-U', uuid, ...(force ? ['-f'] : []), target], {timeout: STEP_MS, cancelSignal: signal})
}

/** Creates `file` (which must not exist) as a sparse file of `bytes`: blocks are allocated only as written. */
export async function createSparseFile(file: string, bytes: number): Promise<void> {
  await fs.mkdir(path.dirname(file), {recursive: true, mode: 0o755})
  const handle = await fs.open(file, 'wx', 0o600)
  try {
    await handle.truncate(bytes)
  } finally {
    await handle.close()
  }
}

/** Grows an existing file to `bytes` (sparse); never shrinks it. */
export async function growFile(file: string, bytes: number): Promise<void> {
  const st = await fs.stat(file)
  if (st.size < bytes) await fs.truncate(file, bytes)
}

export async function isBlockDevice(p: string): Promise<boolean> {
  return fs.stat(p).then((s) => s.isBlockDevice(), () => false)
}

/**
 * A loop device over `file` (a FUSE export of an RBD image): read-only when asked, with direct
 * I/O (no second page cache between the filesystem and the file). A file that still shows size 0
 * (a FUSE export just added) is waited for briefly, or losetup would make a 0-byte device.
 */
export async function attachLoop(runner: Runner, file: string, options: {readOnly: boolean, waitMs?: number}): Promise<string> {
  const deadline = Date.now() + (options.waitMs ?? 1000)
  while (((await fs.stat(file).catch(() => undefined))?.size ?? 0) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
  const r = await runner.run('losetup', ['--find', '--show', '--direct-io=on', ...(options.readOnly ? ['--read-only'] : []), file], {timeout: 60_000})
  return r.stdout.trim()
}

/** Detaches a loop device (after its filesystem was unmounted). */
export async function detachLoop(runner: Runner, device: string): Promise<void> {
  await runner.run('losetup', ['--detach', device], {timeout: 60_000})
}

/** The loop devices whose backing file is under `dir` (what a killed run left attached). */
export async function loopsUnder(dir: string): Promise<string[]> {
  const out: string[] = []
  for (const name of await fs.readdir('/sys/block').catch(() => [] as string[])) {
    if (!/^loop\d+$/.test(name)) continue
    const backing = (await fs.readFile(`/sys/block/${name}/loop/backing_file`, 'utf8').catch(() => '')).trim()
    if (backing && (backing === dir || backing.startsWith(`${dir}/`))) out.push(`/dev/${name}`)
  }
  return out
}

/** An empty ext4 of `bytes` in a new sparse file filled from `tree` (`mke2fs -d`: no loop device, owners,
 * modes, device nodes, hard links, xattrs and file capabilities kept). */
export async function makeExt4From(runner: Runner, tree: string, file: string, bytes: number, signal?: AbortSignal): Promise<void> {
  await createSparseFile(file, bytes)
  // No lazy init (it would run on the first mount, on the node); 1 % reserved: a root, not a data disk.
  await runner.run('mke2fs', ['-q', '-F', '-t', 'ext4', '-m', '1', '-E', 'lazy_itable_init=0,lazy_journal_init=0', '-d', tree, file], {timeout: 60 * 60_000, cancelSignal: signal})
}

/**
 * Gives an unmounted ext4 (a device or an image file) the filesystem UUID `uuid`, unless it has it;
 * returns whether it changed. With metadata_csum, the checksum seed is stored first
 * (metadata_csum_seed, kernel 4.4+), so the change rewrites the superblocks and nothing else:
 * instant, and no fsck needed.
 */
export async function setExt4Uuid(runner: Runner, target: string, uuid: string, signal?: AbortSignal): Promise<boolean> {
  const listed = (await runner.run('tune2fs', ['-l', target], {timeout: 60_000, cancelSignal: signal})).stdout
  if (/^Filesystem UUID:\s+(\S+)$/m.exec(listed)?.[1] === uuid) return false
  const features = /^Filesystem features:\s+(.*)$/m.exec(listed)?.[1].split(/\s+/) ?? []
  const seed = features.includes('metadata_csum') && !features.includes('metadata_csum_seed') ? ['-O', 'metadata_csum_seed'] : []
  await runner.run('tune2fs', [...seed, '-U', uuid, target], {timeout: 60_000, cancelSignal: signal})
  return true
}
