import {promises as fs} from 'node:fs'
import path from 'node:path'

import {type Context} from '../base-command.js'
import {PreconditionError, UserError} from '../errors.js'
import {isOwnedCronFile, parseCronFile, renderCronFile, renderCronLine, type CronFileModel, type ScheduledJob} from '../render/cron.js'
import {readIfExists, syncDir, writeFileAtomic} from '../system/files.js'
import {withLock} from '../system/lock.js'
import {STATE} from '../system/paths.js'
import {checkWithCron} from './cron-check.js'
import {normalizeSchedule} from './cron-spec.js'

/** Host paths of the schedule. */
export const SCHEDULE_PATHS = {
  cronFile: '/etc/cron.d/pxeroot',
  logFile: '/var/log/pxeroot/cron.log',
  lock: path.posix.join(STATE.stateDir, 'schedule.lock'),
} as const

/** How cron must start this pxeroot, and which commands it has (oclif ids, "image:update"). */
export interface PxerootProgram {
  argv: readonly string[]
  commandIds: readonly string[]
}

export interface ScheduleEntry extends ScheduledJob {
  /** The line as cron reads it. */
  line: string
}

export interface ScheduleState {
  file: string
  logFile: string
  jobs: ScheduleEntry[]
  /** What this run did: "created", "updated", "unchanged", "removed", or "none" for show. */
  change: 'created' | 'updated' | 'unchanged' | 'removed' | 'none'
}

/** How many leading args name a command ("image update --all" → 2), or 0 when they name none. */
export function commandLength(commandIds: readonly string[], args: readonly string[]): number {
  const ids = new Set(commandIds)
  for (let n = args.length; n > 0; n--) {
    if (args.slice(0, n).some((a) => a.startsWith('-'))) continue
    if (ids.has(args.slice(0, n).join(':'))) return n
  }
  return 0
}

function checkArgs(program: PxerootProgram, args: readonly string[]): void {
  const shown = args.join(' ')
  if (args.length === 0) throw new UserError('command: missing; give the pxeroot command after "--", e.g. schedule set "0 3 * * 0" -- image update --all')
  const n = commandLength(program.commandIds, args)
  if (n === 0) throw new UserError(`command: "${shown}" is not a pxeroot command`, 'write the arguments you would give pxeroot, e.g. -- image update --all')
  if (args[0] === 'schedule') throw new UserError('command: schedule commands cannot be scheduled')
  if (args.some((a) => /[\n\r\0]/.test(a))) throw new UserError('command: arguments must not contain line breaks')
  if (args.some((a) => a === '--root' || a.startsWith('--root='))) {
    throw new UserError('command: do not pass --root to the scheduled command', 'give --root to "schedule set" itself; the job inherits it')
  }
}

function model(ctx: Context, program: PxerootProgram, jobs: readonly ScheduledJob[]): CronFileModel {
  return {
    jobs,
    program: program.argv,
    commandLength: (args) => commandLength(program.commandIds, args),
    rootPrefix: ctx.root.isHost ? undefined : ctx.root.prefix,
    logFile: SCHEDULE_PATHS.logFile,
  }
}

async function readJobs(ctx: Context): Promise<ScheduledJob[] | undefined> {
  const text = await readIfExists(ctx.root.resolve(SCHEDULE_PATHS.cronFile))
  if (text === undefined) return undefined
  if (!isOwnedCronFile(text.toString('utf8'))) {
    throw new PreconditionError(`${SCHEDULE_PATHS.cronFile} exists and was not written by pxeroot`, 'move it away, then run the schedule command again')
  }
  return parseCronFile(text.toString('utf8'))
}

function state(ctx: Context, program: PxerootProgram | undefined, jobs: readonly ScheduledJob[], change: ScheduleState['change']): ScheduleState {
  const m = program ? model(ctx, program, jobs) : undefined
  return {
    file: SCHEDULE_PATHS.cronFile,
    logFile: SCHEDULE_PATHS.logFile,
    jobs: jobs.map((job) => ({...job, line: m ? renderCronLine(m, job) : ''})),
    change,
  }
}

async function install(ctx: Context, program: PxerootProgram, jobs: readonly ScheduledJob[]): Promise<void> {
  const text = renderCronFile(model(ctx, program, jobs))
  await checkWithCron(ctx.runner, text, ctx.signal)
  // cron skips files in cron.d that are group- or world-writable; a new file is created 0644 by root.
  await fs.mkdir(ctx.root.resolve(path.posix.dirname(SCHEDULE_PATHS.logFile)), {recursive: true, mode: 0o755})
  await writeFileAtomic(ctx.root.resolve(SCHEDULE_PATHS.cronFile), text, {mode: 0o644, forceMode: true})
}

/** `schedule set WHEN -- ARGS`: adds the job, or moves an identical command to the new time. */
export async function setSchedule(ctx: Context, when: string, args: readonly string[], program: PxerootProgram): Promise<ScheduleState> {
  const schedule = normalizeSchedule(when)
  checkArgs(program, args)
  for (const word of program.argv) {
    if (!path.isAbsolute(word)) throw new Error(`internal: the program cron runs must be absolute: ${word}`)
  }
  return withLock(ctx.root.resolve(SCHEDULE_PATHS.lock), 'schedule', async () => {
    const before = await readJobs(ctx)
    const job: ScheduledJob = {schedule, args: [...args]}
    const same = (j: ScheduledJob) => j.args.length === job.args.length && j.args.every((a, i) => a === job.args[i])
    const jobs = before?.some(same) ? before.map((j) => (same(j) ? job : j)) : [...(before ?? []), job]
    const current = await readIfExists(ctx.root.resolve(SCHEDULE_PATHS.cronFile))
    if (current?.toString('utf8') === renderCronFile(model(ctx, program, jobs))) return state(ctx, program, jobs, 'unchanged')
    await install(ctx, program, jobs)
    return state(ctx, program, jobs, before === undefined ? 'created' : 'updated')
  })
}

/** `schedule show`: the jobs in the cron file and the lines cron runs. Reads only. */
export async function showSchedule(ctx: Context, program?: PxerootProgram): Promise<ScheduleState> {
  const jobs = (await readJobs(ctx)) ?? []
  const s = state(ctx, program, jobs, 'none')
  const text = await readIfExists(ctx.root.resolve(SCHEDULE_PATHS.cronFile))
  // Show what is installed, even when this pxeroot would render it differently (moved or upgraded).
  const installed = text?.toString('utf8').split('\n').filter((l) => l !== '' && !l.startsWith('#') && !/^[A-Z_]+=/.test(l)) ?? []
  s.jobs.forEach((job, i) => {
    job.line = installed[i] ?? job.line
  })
  return s
}

/** `schedule rm [-- ARGS]`: one job, or the whole file. Removing what is not there is not an error. */
export async function removeSchedule(ctx: Context, args: readonly string[], program: PxerootProgram): Promise<ScheduleState> {
  return withLock(ctx.root.resolve(SCHEDULE_PATHS.lock), 'schedule', async () => {
    const before = await readJobs(ctx)
    if (before === undefined) return state(ctx, program, [], 'unchanged')
    const jobs = args.length === 0 ? [] : before.filter((j) => !(j.args.length === args.length && j.args.every((a, i) => a === args[i])))
    if (jobs.length === before.length) {
      throw new UserError(`command: "${args.join(' ')}" is not scheduled`, 'see "pxeroot schedule show"')
    }
    if (jobs.length === 0) {
      const file = ctx.root.resolve(SCHEDULE_PATHS.cronFile)
      await fs.rm(file, {force: true})
      await syncDir(path.dirname(file))
    } else {
      await install(ctx, program, jobs)
    }
    return state(ctx, program, jobs, 'removed')
  })
}
