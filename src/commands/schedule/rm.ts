import {Args} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {thisProgram} from '../../cli/program.js'
import {type ScheduleState} from '../../schedule/schedule.js'
import {removeSchedule} from '../../services/schedule-rm.js'
import {formatSchedule} from '../../schedule/format.js'

export default class ScheduleRm extends BaseCommand {
  static description = 'Stop running a scheduled command (all of them when none is given)'

  static examples = ['<%= config.bin %> schedule rm', '<%= config.bin %> schedule rm -- image update --all']

  static strict = false

  static args = {
    command: Args.string({description: 'after "--": the scheduled pxeroot command to remove'}),
  }

  public async run(): Promise<ScheduleState> {
    const {argv, flags} = await this.parse(ScheduleRm)
    const ctx = this.makeContext(flags.root)
    const result = await removeSchedule(ctx, argv as string[], thisProgram(this.config))
    if (!ctx.json) process.stdout.write(formatSchedule(result))
    return result
  }
}
