import {BaseCommand} from '../../cli/base-command.js'
import {thisProgram} from '../../cli/program.js'
import {type ScheduleState} from '../../schedule/schedule.js'
import {showSchedule} from '../../services/schedule-show.js'
import {formatSchedule} from '../../schedule/format.js'

export default class ScheduleShow extends BaseCommand {
  static description = 'Show the pxeroot commands cron runs, and where their output goes'

  public async run(): Promise<ScheduleState> {
    const {flags} = await this.parse(ScheduleShow)
    const ctx = this.makeContext(flags.root)
    const result = await showSchedule(ctx, thisProgram(this.config))
    if (!ctx.json) process.stdout.write(formatSchedule(result))
    return result
  }
}
