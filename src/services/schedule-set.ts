import path from 'node:path'

import {renderCronFile, type ScheduledJob} from '../render/cron.js'
import {normalizeSchedule} from '../schedule/cron-spec.js'
import {checkArgs, commandLength, install, model, type PxerootProgram, readJobs, sameArgs, SCHEDULE_PATHS, type ScheduleState, state} from '../schedule/schedule.js'
import {type Context} from '../system/context.js'
import {readIfExists} from '../system/files.js'
import {withLock} from '../system/lock.js'

/** This pxeroot, and (from the CLI) each command's own argv parser. */
export interface SchedulableProgram extends PxerootProgram {
  /** Throws a UserError naming the flag or argument when the command would refuse `argv`. */
  parseArgs?: (commandId: string, argv: readonly string[]) => Promise<void>
}

/** `schedule set WHEN -- ARGS`: adds the job, or moves an identical command to the new time. The
 * command's arguments are checked as the command itself parses them: cron would fail every run. */
export async function setSchedule(ctx: Context, when: string, args: readonly string[], program: SchedulableProgram): Promise<ScheduleState> {
  const schedule = normalizeSchedule(when)
  checkArgs(program, args)
  const n = commandLength(program.commandIds, args)
  await program.parseArgs?.(args.slice(0, n).join(':'), args.slice(n))
  for (const word of program.argv) {
    if (!path.isAbsolute(word)) throw new Error(`internal: the program cron runs must be absolute: ${word}`)
  }
  return withLock(ctx.root.resolve(SCHEDULE_PATHS.lock), 'schedule', async () => {
    const before = await readJobs(ctx)
    const job: ScheduledJob = {schedule, args: [...args]}
    const jobs = before?.some((j) => sameArgs(j.args, job.args)) ? before.map((j) => (sameArgs(j.args, job.args) ? job : j)) : [...(before ?? []), job]
    const current = await readIfExists(ctx.root.resolve(SCHEDULE_PATHS.cronFile))
    if (current?.toString('utf8') === renderCronFile(model(ctx, program, jobs))) return state(ctx, program, jobs, 'unchanged')
    await install(ctx, program, jobs)
    return state(ctx, program, jobs, before === undefined ? 'created' : 'updated')
  })
}
