import {Args} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {thisProgram} from '../../cli/program.js'
import {wordsInOrder} from '../../cli/words.js'
import {setSchedule, type SetScheduleResult} from '../../services/schedule-set.js'
import {formatSchedule} from '../../schedule/format.js'

export default class ScheduleSet extends BaseCommand {
  static description = `Run a pxeroot command from cron (writes /etc/cron.d/pxeroot)

The job runs as root with a PATH that includes /usr/sbin and appends its output to
/var/log/pxeroot/cron.log. Setting a command that is already scheduled moves it to the new time.
What would fail every run is refused now: the command's arguments, the site file, the inventory,
the images and nodes it names, another job taking the same lock at the same minute. What was
checked now and what only a run can find is printed (under --json: "checked").`

  static examples = [
    '<%= config.bin %> schedule set "0 3 * * 0" -- image update --all',
    '<%= config.bin %> schedule set @daily -- apply',
  ]

  static strict = false

  static args = {
    when: Args.string({description: 'five cron fields "MIN HOUR DOM MON DOW", or @daily, @weekly, ...', required: true}),
    command: Args.string({description: 'after "--": the pxeroot command and its arguments'}),
  }

  public async run(): Promise<SetScheduleResult> {
    const {args, raw, flags} = await this.parse(ScheduleSet)
    const ctx = this.makeContext(flags.root)
    const words = wordsInOrder(raw)
    const result = await setSchedule(ctx, args.when, words.slice(1), thisProgram(this.config))
    if (!ctx.json) process.stdout.write(formatSchedule(result))
    return result
  }
}
