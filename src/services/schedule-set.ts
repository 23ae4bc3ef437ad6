import path from 'node:path'

import {renderCronFile, type ScheduledJob} from '../render/cron.js'
import {normalizeSchedule} from '../schedule/cron-spec.js'
import {checkArgs, commandLength, install, model, type PxerootProgram, readJobs, sameArgs, SCHEDULE_PATHS, type ScheduleState, state} from '../schedule/schedule.js'
import {preflight, type ParsedCommand, type Preflight} from '../schedule/preflight.js'
import {type Context} from '../system/context.js'
import {readIfExists} from '../system/files.js'
import {withLock} from '../system/lock.js'

/** This pxeroot, and (from the CLI) each command's own argv parser. */
export interface SchedulableProgram extends PxerootProgram {
  /** Throws a UserError naming the flag or argument when the command would refuse `argv`; else what it read. */
  parseArgs?: (commandId: string, argv: readonly string[]) => Promise<ParsedCommand | undefined>
}

export interface SetScheduleResult extends ScheduleState {
  /** What was checked before the job was written, and what only its runs can find. */
  checked: Preflight
}

/**
 * `schedule set WHEN -- ARGS`: adds the job, or moves an identical command to the new time. What
 * would fail every run is refused now: the command's arguments as the command itself parses them,
 * and what it needs (the site, the inventory, the images and nodes it names, no other job taking
 * its lock at the same minute; see schedule/preflight.ts).
 */
export async function setSchedule(ctx: Context, when: string, args: readonly string[], program: SchedulableProgram): Promise<SetScheduleResult> {
  const schedule = normalizeSchedule(when)
  checkArgs(program, args)
  const n = commandLength(program.commandIds, args)
  const id = args.slice(0, n).join(':')
  const parsed = await program.parseArgs?.(id, args.slice(n))
  for (const word of program.argv) {
    if (!path.isAbsolute(word)) throw new Error(`internal: the program cron runs must be absolute: ${word}`)
  }
  return withLock(ctx.root.resolve(SCHEDULE_PATHS.lock), 'schedule', async () => {
    const before = await readJobs(ctx)
    const job: ScheduledJob = {schedule, args: [...args]}
    const others = (before ?? []).filter((j) => !sameArgs(j.args, job.args)).map((j) => {
      const k = commandLength(program.commandIds, j.args)
      return {schedule: j.schedule, id: j.args.slice(0, k).join(':'), args: j.args.slice(k)}
    })
    const checked = await preflight(ctx, schedule, parsed, id, args.slice(n), others)
    const jobs = before?.some((j) => sameArgs(j.args, job.args)) ? before.map((j) => (sameArgs(j.args, job.args) ? job : j)) : [...(before ?? []), job]
    const current = await readIfExists(ctx.root.resolve(SCHEDULE_PATHS.cronFile))
    if (current?.toString('utf8') === renderCronFile(model(ctx, program, jobs))) return {...state(ctx, program, jobs, 'unchanged'), checked}
    await install(ctx, program, jobs)
    checked.now.push('cron accepts the file')
    return {...state(ctx, program, jobs, before === undefined ? 'created' : 'updated'), checked}
  })
}
