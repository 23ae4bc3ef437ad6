import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {formatReport} from '../../images/update.js'
import {updateImages} from '../../services/image-update.js'

export default class ImageUpdate extends BaseCommand {
  static aliases = ['images:update']
  static description = `Upgrade an image's packages (apt-get update + full-upgrade) into a new revision; "up to date" when nothing changed

Conffiles follow dpkg's --force-confdef --force-confold: unchanged ones take the new version, changed ones are kept.
With --all (cron), every image is tried; the exit code is 4 when some failed.`

  static examples = ['<%= config.bin %> image update lab', '<%= config.bin %> image update --all']

  static args = {name: Args.string({description: 'image name'})}
  static flags = {all: Flags.boolean({description: 'update every image'})}

  public async run(): Promise<unknown> {
    const {args, flags} = await this.parse(ImageUpdate)
    const ctx = this.makeContext(flags.root)
    const reports = await updateImages(ctx, {name: args.name, all: flags.all}, this.config.version)
    if (!this.jsonEnabled() && !flags.all) for (const r of reports) this.log(formatReport(r))
    return {images: reports}
  }
}
