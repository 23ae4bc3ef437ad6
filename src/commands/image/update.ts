import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {formatReport} from '../../images/update.js'
import {updateImages} from '../../services/image-update.js'
import {updateThenRollout} from '../../services/image-update-rollout.js'
import {printedUpdateRollout} from '../../cli/rollout-report.js'

export default class ImageUpdate extends BaseCommand {
  static aliases = ['images:update']
  static description = `Upgrade an image's packages (apt-get update + full-upgrade) into a new revision; "up to date" when nothing changed

Conffiles follow dpkg's --force-confdef --force-confold: unchanged ones take the new version, changed ones are kept.
With --all (cron), every image is tried; the exit code is 4 when some failed.
--then-rollout: then "rollout --latest" of the image's nodes (with --all: every node), with the site's
rollout settings (canary, wave, timeout), as soon as the update ends: what cron runs weekly.`

  static examples = ['<%= config.bin %> image update lab', '<%= config.bin %> image update --all', '<%= config.bin %> image update --all --then-rollout']

  static args = {name: Args.string({description: 'image name'})}
  static flags = {
    all: Flags.boolean({description: 'update every image'}),
    'then-rollout': Flags.boolean({description: 'then roll the nodes out onto the new revisions (rollout --latest, the site\'s rollout settings)'}),
  }

  public async run(): Promise<unknown> {
    const {args, flags} = await this.parse(ImageUpdate)
    const ctx = this.makeContext(flags.root)
    if (flags['then-rollout']) return printedUpdateRollout(this.jsonEnabled(), () => updateThenRollout(ctx, {name: args.name, all: flags.all}, this.config.version))
    const reports = await updateImages(ctx, {name: args.name, all: flags.all}, this.config.version)
    if (!this.jsonEnabled() && !flags.all) for (const r of reports) this.log(formatReport(r))
    return {images: reports}
  }
}
