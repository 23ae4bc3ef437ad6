import path from 'node:path'

import {UserError} from '../errors.js'
import {install, type PxerootProgram, readJobs, sameArgs, SCHEDULE_PATHS, type ScheduleState, state} from '../schedule/schedule.js'
import {type Context} from '../system/context.js'
import {withLock} from '../system/lock.js'

/** `schedule rm [-- ARGS]`: one job, or the whole file. Removing what is not there is not an error. */
export async function removeSchedule(ctx: Context, args: readonly string[], program: PxerootProgram): Promise<ScheduleState> {
  return withLock(ctx.root.resolve(SCHEDULE_PATHS.lock), 'schedule', async () => {
    const before = await readJobs(ctx)
    if (before === undefined) return state(ctx, program, [], 'unchanged')
    const jobs = args.length === 0 ? [] : before.filter((j) => !sameArgs(j.args, args))
    if (jobs.length === before.length) {
      throw new UserError(`command: "${args.join(' ')}" is not scheduled`, 'see "pxeroot schedule show"')
    }
    if (jobs.length === 0) {
      const file = ctx.root.resolve(SCHEDULE_PATHS.cronFile)
      await ctx.files.remove(file)
      await ctx.files.syncDir(path.dirname(file))
    } else {
      await install(ctx, program, jobs)
    }
    return state(ctx, program, jobs, 'removed')
  })
}
