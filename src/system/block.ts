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
