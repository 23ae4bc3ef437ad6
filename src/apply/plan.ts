import {promises as fs} from 'node:fs'
import {createTwoFilesPatch} from 'diff'

import {type DesiredFile} from '../backends/types.js'
import {PreconditionError} from '../errors.js'
import {header} from '../render/header.js'
import {mapBounded, settled} from '../system/pool.js'
import {readIfExists} from '../system/files.js'
import {STATE, type Root} from '../system/paths.js'

/** Files read or written at once: enough to hide fsync latency, few enough for any fd limit. */
export const IO_CONCURRENCY = 32

export type Action = 'create' | 'update' | 'delete' | 'unchanged'

export interface FileChange {
  path: string
  action: Action
  before?: Buffer
  after?: Buffer
  mode: number
  edited?: boolean
  published?: boolean
}

export interface Plan {
  changes: FileChange[]
  /** Every owned path after the plan is applied (the next manifest). */
  owned: string[]
}

export interface OwnedManifest {
  files: string[]
}

export async function readOwned(root: Root): Promise<OwnedManifest> {
  const text = await readIfExists(root.resolve(STATE.ownedManifest))
  if (!text) return {files: []}
  let data: Partial<OwnedManifest>
  try {
    data = JSON.parse(text.toString('utf8')) as Partial<OwnedManifest>
  } catch (error) {
    throw new PreconditionError(`${STATE.ownedManifest} is damaged (${(error as Error).message}), so pxeroot cannot tell which files it owns; nothing was changed`,
      `restore it from a backup, or remove it and run "pxeroot apply" (files pxeroot no longer renders are then left in place)`)
  }
  return {files: Array.isArray(data.files) ? data.files.filter((f): f is string => typeof f === 'string') : []}
}

/** A file with pxeroot's header was written by some pxeroot run (an owned.json lost or restored from an older backup). */
function writtenByPxeroot(data: Buffer): boolean {
  return data.subarray(0, 64).toString('utf8').startsWith(header('#'))
}

/**
 * Refuses to replace a file in a shared directory (the tftp root) that pxeroot did not write:
 * an admin's own grub/grub.cfg or pxelinux.0 stays as it is until they move it aside. A file
 * with the same bytes, or one pxeroot's header shows it wrote, is taken over.
 */
function refuseHandMade(desired: readonly DesiredFile[], changes: readonly FileChange[], owned: OwnedManifest): void {
  const ours = new Set(owned.files)
  const guarded = new Set(desired.filter((f) => f.guarded).map((f) => f.path))
  const handMade = changes.filter((c) => guarded.has(c.path) && c.action === 'update' && !ours.has(c.path) && !c.before!.equals(c.after!) && !writtenByPxeroot(c.before!)).map((c) => c.path)
  if (handMade.length === 0) return
  throw new PreconditionError(`${handMade.join(', ')} ${handMade.length === 1 ? 'exists' : 'exist'} and pxeroot did not write ${handMade.length === 1 ? 'it' : 'them'}; nothing was changed`,
    `move ${handMade.length === 1 ? 'it' : 'them'} aside (pxeroot writes its own), or leave the firmware that needs ${handMade.length === 1 ? 'it' : 'them'} out of boot.firmware`)
}

/** Compares the desired files with the disk: what to create, update and remove. Reads only. */
export async function planFiles(root: Root, desired: readonly DesiredFile[], previouslyOwned: OwnedManifest): Promise<Plan> {
  const compared = await mapBounded(desired, IO_CONCURRENCY, async (file): Promise<FileChange> => {
    const after = Buffer.isBuffer(file.content) ? file.content : Buffer.from(file.content)
    const disk = root.resolve(file.path)
    const before = await readIfExists(disk)
    const stat = before ? await fs.stat(disk) : undefined
    const modeOk = !stat || file.edited || (stat.mode & 0o777) === file.mode
    const action: Action = before === undefined ? 'create' : before.equals(after) && modeOk ? 'unchanged' : 'update'
    return {path: file.path, action, before, after, mode: file.mode, edited: file.edited, published: file.published}
  })
  const changes = settled(compared)
  refuseHandMade(desired, changes, previouslyOwned)
  const wanted = new Set(desired.map((f) => f.path))
  for (const stale of previouslyOwned.files) {
    if (wanted.has(stale)) continue
    const before = await readIfExists(root.resolve(stale))
    if (before !== undefined) changes.push({path: stale, action: 'delete', before, mode: 0o644})
  }
  const owned = desired.filter((f) => !f.edited && !f.published).map((f) => f.path).sort()
  return {changes, owned}
}

function isText(data: Buffer | undefined): boolean {
  return data === undefined || !data.subarray(0, 8000).includes(0)
}

/** A unified diff of one change, as `apply --dry-run` prints it. */
export function changeDiff(change: FileChange): string {
  if (change.action === 'unchanged') return ''
  if (!isText(change.before) || !isText(change.after)) {
    const size = (b?: Buffer) => (b ? `${b.length} bytes` : 'absent')
    return `Binary file ${change.path}: ${size(change.before)} -> ${size(change.after)}\n`
  }
  const from = change.action === 'create' ? '/dev/null' : `a${change.path}`
  const to = change.action === 'delete' ? '/dev/null' : `b${change.path}`
  return unifiedDiff(from, to, change.before?.toString('utf8') ?? '', change.after?.toString('utf8') ?? '')
}

/** diff -u style text; empty when nothing differs. */
export function unifiedDiff(from: string, to: string, before: string, after: string): string {
  if (before === after) return ''
  const patch = createTwoFilesPatch(from, to, before, after, undefined, undefined, {context: 3})
  // Drop the "Index"/"====" preamble: the ---/+++ header is what diff(1) users read.
  return patch.split('\n').filter((l) => !l.startsWith('Index:') && !/^=+$/.test(l)).join('\n')
}
