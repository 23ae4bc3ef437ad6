import path from 'node:path'

import {type Context} from '../system/context.js'
import {PreconditionError, UserError} from '../errors.js'
import {isOwnedCronFile, parseCronFile, renderCronFile, renderCronLine, type CronFileModel, type ScheduledJob} from '../render/cron.js'
import {readIfExists} from '../system/files.js'
import {STATE} from '../system/paths.js'
import {checkWithCron} from './cron-check.js'

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

export function checkArgs(program: PxerootProgram, args: readonly string[]): void {
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

export function model(ctx: Context, program: PxerootProgram, jobs: readonly ScheduledJob[]): CronFileModel {
  return {
    jobs,
    program: program.argv,
    commandLength: (args) => commandLength(program.commandIds, args),
    rootPrefix: ctx.root.isHost ? undefined : ctx.root.prefix,
    logFile: SCHEDULE_PATHS.logFile,
  }
}

export async function readJobs(ctx: Context): Promise<ScheduledJob[] | undefined> {
  const text = await readIfExists(ctx.root.resolve(SCHEDULE_PATHS.cronFile))
  if (text === undefined) return undefined
  if (!isOwnedCronFile(text.toString('utf8'))) {
    throw new PreconditionError(`${SCHEDULE_PATHS.cronFile} exists and was not written by pxeroot`, 'move it away, then run the schedule command again')
  }
  return parseCronFile(text.toString('utf8'))
}

export function state(ctx: Context, program: PxerootProgram | undefined, jobs: readonly ScheduledJob[], change: ScheduleState['change']): ScheduleState {
  const m = program ? model(ctx, program, jobs) : undefined
  return {
    file: SCHEDULE_PATHS.cronFile,
    logFile: SCHEDULE_PATHS.logFile,
    jobs: jobs.map((job) => ({...job, line: m ? renderCronLine(m, job) : ''})),
    change,
  }
}

/** Checks the file with cron itself, then writes it atomically, 0644 (cron skips group- or world-writable files in cron.d). */
export async function install(ctx: Context, program: PxerootProgram, jobs: readonly ScheduledJob[]): Promise<void> {
  const text = renderCronFile(model(ctx, program, jobs))
  await checkWithCron(ctx, text)
  await ctx.files.mkdir(ctx.root.resolve(path.posix.dirname(SCHEDULE_PATHS.logFile)), 0o755)
  await ctx.files.write(ctx.root.resolve(SCHEDULE_PATHS.cronFile), text, {mode: 0o644, forceMode: true})
}

export function sameArgs(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i])
}
