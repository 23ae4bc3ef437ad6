import {BaseCommand} from '../../cli/base-command.js'
import {printedRollout} from '../../cli/rollout-report.js'
import {EXIT_TABLE} from '../../errors.js'
import {resumeRollout, type RolloutResult} from '../../services/rollout.js'

export default class RolloutResume extends BaseCommand {
  static summary = 'Carry on the rollout that was interrupted (Ctrl-C, a kill), each node from the step it was at'
  static description = `A node powered off goes on to its rebase; one rebased is powered on; one booting is waited for
again, and so on; then the later waves. Its BMCs are asked first, as at the start.\n\n${EXIT_TABLE}`

  static examples = ['<%= config.bin %> rollout resume']

  public async run(): Promise<RolloutResult> {
    const {flags} = await this.parse(RolloutResume)
    return printedRollout(this.jsonEnabled(), () => resumeRollout(this.makeContext(flags.root)))
  }
}
