import {BaseCommand} from '../cli/base-command.js'
import {serverFlag} from '../cli/flags.js'
import {type Check} from '../doctor/checks.js'
import {runDoctor} from '../services/doctor.js'
import {EXIT, EXIT_TABLE} from '../errors.js'

export default class Doctor extends BaseCommand {
  static summary = 'Check that everything is installed, configured, readable and served'
  static description = `Exits 1 when a check fails (warnings do not fail). On a site with several servers it checks this server, and asks every server how the nodes reach it.\n\n${EXIT_TABLE}`
  static flags = {...serverFlag}

  public async run(): Promise<{checks: Check[], ok: boolean}> {
    const {flags} = await this.parse(Doctor)
    const checks = await runDoctor(this.makeContext(flags.root, {server: flags.server}))
    const failed = checks.some((c) => c.status === 'fail')
    if (!this.jsonEnabled()) {
      for (const c of checks) {
        this.log(`${c.status.toUpperCase().padEnd(4)}  ${c.check}: ${c.message}${c.fix ? `\n      fix: ${c.fix}` : ''}`)
      }
    }
    if (failed) process.exitCode = EXIT.failed
    return {checks, ok: !failed}
  }
}
