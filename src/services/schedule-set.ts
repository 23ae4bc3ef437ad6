import path from 'node:path'

import {renderCronFile, type ScheduledJob} from '../render/cron.js'
import {normalizeSchedule} from '../schedule/cron-spec.js'
import {checkArgs, install, model, type PxerootProgram, readJobs, sameArgs, SCHEDULE_PATHS, type ScheduleState, state} from '../schedule/schedule.js'
import {type Context} from '../system/context.js'
import {readIfExists} from '../system/files.js'
import {withLock} from '../system/lock.js'

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
    const jobs = before?.some((j) => sameArgs(j.args, job.args)) ? before.map((j) => (sameArgs(j.args, job.args) ? job : j)) : [...(before ?? []), job]
    const current = await readIfExists(ctx.root.resolve(SCHEDULE_PATHS.cronFile))
    if (current?.toString('utf8') === renderCronFile(model(ctx, program, jobs))) return state(ctx, program, jobs, 'unchanged')
    await install(ctx, program, jobs)
    return state(ctx, program, jobs, before === undefined ? 'created' : 'updated')
  })
}
