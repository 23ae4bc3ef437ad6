import {Args} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {thisProgram} from '../../cli/program.js'
import {wordsInOrder} from '../../cli/words.js'
import {type ScheduleState} from '../../schedule/schedule.js'
import {setSchedule} from '../../services/schedule-set.js'
import {formatSchedule} from '../../schedule/format.js'

export default class ScheduleSet extends BaseCommand {
  static description = `Run a pxeroot command from cron (writes /etc/cron.d/pxeroot)

The job runs as root with a PATH that includes /usr/sbin and appends its output to
/var/log/pxeroot/cron.log. Setting a command that is already scheduled moves it to the new time.`

  static examples = [
    '<%= config.bin %> schedule set "0 3 * * 0" -- image update --all',
    '<%= config.bin %> schedule set @daily -- apply',
  ]

  static strict = false

  static args = {
    when: Args.string({description: 'five cron fields "MIN HOUR DOM MON DOW", or @daily, @weekly, ...', required: true}),
    command: Args.string({description: 'after "--": the pxeroot command and its arguments'}),
  }

  public async run(): Promise<ScheduleState> {
    const {args, raw, flags} = await this.parse(ScheduleSet)
    const ctx = this.makeContext(flags.root)
    const words = wordsInOrder(raw)
    const result = await setSchedule(ctx, args.when, words.slice(1), thisProgram(this.config))
    if (!ctx.json) process.stdout.write(formatSchedule(result))
    return result
  }
}
