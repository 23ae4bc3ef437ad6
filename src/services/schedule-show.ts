import {readJobs, type PxerootProgram, SCHEDULE_PATHS, type ScheduleState, state} from '../schedule/schedule.js'
import {type Context} from '../system/context.js'
import {readIfExists} from '../system/files.js'

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
