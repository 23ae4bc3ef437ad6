import {promises as fs} from 'node:fs'
import path from 'node:path'

import {type Context} from '../system/context.js'
import {isAlive} from '../system/processes.js'
import {type Root} from '../system/paths.js'
import {type Move} from './plan.js'

/** Where every rollout's record is kept (the machine-readable history), and the lock of the one running. */
export const ROLLOUTS_DIR = '/var/lib/pxeroot/rollouts'
export const ROLLOUT_LOCK = `${ROLLOUTS_DIR}/lock`

/**
 * Where a node is in its rollout. Forwards: off (powering off) → rebase → on → boot → up. When
 * the node does not come up on the new revision: back-off → rollback → back-on → back-boot →
 * rolled-back, or stuck when even that did not bring it up. A step is recorded before it is
 * taken, so a run that was killed resumes each node at the step it was in.
 */
export type NodeStep = 'pending' | 'off' | 'rebase' | 'on' | 'boot' | 'up' | 'back-off' | 'rollback' | 'back-on' | 'back-boot' | 'rolled-back' | 'stuck'

export const FINAL_STEPS: readonly NodeStep[] = ['up', 'rolled-back', 'stuck']

export interface NodeRecord extends Move {
  step: NodeStep
  /** The boot id the node last reported before it was powered off: a boot with another one is a new boot. */
  bootIdBefore?: string
  /** Why it failed, and why the rollback did not help (stuck). */
  failure?: string
  rollbackFailure?: string
  /** Each step as it was taken. */
  events: {at: string, step: NodeStep, note?: string}[]
}

export type RolloutState = 'running' | 'done' | 'failed' | 'interrupted'

export interface RolloutRecord {
  format: 1
  id: string
  /** What was asked: a revision (NAME@N), an image's current one, or every node's latest. */
  target: string
  started: string
  ended?: string
  state: RolloutState
  /** The process running it (a running record whose process is gone was killed: resumable). */
  pid: number
  options: {canary: number, wave: number, timeout: number, shutdownTimeout: number}
  waves: string[][]
  nodes: Record<string, NodeRecord>
  /** Nodes asked for that were on their target already. */
  already: string[]
}

export function recordFile(id: string): string {
  return path.posix.join(ROLLOUTS_DIR, `${id}.json`)
}

/** A sortable id from the start time: 20250105T030000Z. */
export function rolloutId(at: Date, taken: (id: string) => boolean): string {
  const base = at.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')
  for (let n = 1; ; n++) {
    const id = n === 1 ? base : `${base}-${n}`
    if (!taken(id)) return id
  }
}

/** Written atomically at every step: a reader (rollout status, a resume) sees one whole record. */
export async function saveRecord(ctx: Pick<Context, 'root' | 'files'>, record: RolloutRecord): Promise<void> {
  await ctx.files.write(ctx.root.resolve(recordFile(record.id)), JSON.stringify(record, null, 2) + '\n', {mode: 0o644})
}

/** Every record, oldest first; unreadable ones are skipped. */
export async function readRecords(root: Root): Promise<RolloutRecord[]> {
  const dir = root.resolve(ROLLOUTS_DIR)
  const names = (await fs.readdir(dir).catch(() => [] as string[])).filter((n) => /^\d{8}T\d{6}Z(?:-\d+)?\.json$/.test(n)).sort()
  const out: RolloutRecord[] = []
  for (const name of names) {
    try {
      const r = JSON.parse(await fs.readFile(path.join(dir, name), 'utf8')) as RolloutRecord
      if (r.format === 1 && typeof r.id === 'string') out.push(r)
    } catch {
      // A damaged record is history lost, not a reason to stop.
    }
  }
  return out
}

/** A record whose run did not finish: interrupted, or still "running" with its process gone (killed). */
export function unfinished(record: RolloutRecord): boolean {
  return record.state === 'interrupted' || (record.state === 'running' && !isAlive(record.pid))
}

/** What a node's record says of it now, in words for the report. */
export function nodeOutcome(n: NodeRecord): string {
  switch (n.step) {
    case 'pending': return 'untouched'
    case 'up': return `up on ${n.to}`
    case 'rolled-back': return `rolled back to ${n.from}, up (${n.failure ?? 'failed'})`
    case 'stuck': return `STUCK: ${n.failure ?? 'failed'}; then ${n.rollbackFailure ?? 'the rollback failed'}`
    default: return `stopped at ${n.step}`
  }
}
