import {type ApplyResult} from '../apply/apply.js'
import {applyConfig} from '../services/apply.js'
import {BaseCommand} from '../cli/base-command.js'
import {EXIT_TABLE} from '../errors.js'
import {applyReport} from '../cli/apply-report.js'
import {applyFlags, serverFlag} from '../cli/flags.js'

export default class Apply extends BaseCommand {
  static summary = 'Write the boot configuration (DHCP, NFS exports, TFTP, pxelinux, GRUB) from the site and inventory'
  static description = `Renders every boot file, shows or checks what changes, validates (pxeroot's own rules, then dhcpd -t and exportfs), writes each file atomically and reloads only the services whose files changed.\n\n${EXIT_TABLE}`
  static examples = ['<%= config.bin %> apply --dry-run', '<%= config.bin %> apply', '<%= config.bin %> apply --server boot2   # a site with several servers: this one\'s share']
  static flags = {...applyFlags, ...serverFlag}

  public async run(): Promise<ApplyResult> {
    const {flags} = await this.parse(Apply)
    const ctx = this.makeContext(flags.root, {server: flags.server})
    const options = {dryRun: flags['dry-run'], reload: flags.reload}
    const result = await applyConfig(ctx, options)
    if (!this.jsonEnabled()) process.stdout.write(applyReport(result))
    return result
  }
}
