import {Args} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {EXIT_TABLE} from '../../errors.js'
import {rolloutReport} from '../../rollout/report.js'
import {type RolloutRecord} from '../../rollout/record.js'
import {rolloutStatus} from '../../services/rollout.js'

export default class RolloutStatus extends BaseCommand {
  static summary = 'The running or last rollout (or the one named), node by node, from its record'
  static description = `Reads /var/lib/pxeroot/rollouts/ID.json, which every rollout writes at each step: --json gives
the record itself (each node's revisions, step, failure and events).\n\n${EXIT_TABLE}`

  static examples = ['<%= config.bin %> rollout status', '<%= config.bin %> rollout status 20250105T030000Z --json']
  static args = {id: Args.string({description: 'a rollout\'s id (default: the last)'})}

  public async run(): Promise<RolloutRecord | {rollout: null}> {
    const {args, flags} = await this.parse(RolloutStatus)
    const record = await rolloutStatus(this.makeContext(flags.root), args.id)
    if (!this.jsonEnabled()) process.stdout.write(record ? rolloutReport(record) : 'No rollout has run yet.\n')
    return record ?? {rollout: null}
  }
}
