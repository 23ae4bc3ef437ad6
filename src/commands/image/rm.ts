import {Args} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {removeRevision} from '../../services/image-rm.js'

export default class ImageRm extends BaseCommand {
  static aliases = ['images:rm']
  static description = 'Remove one revision and its boot files (refused while it is current or a node uses it)'
  static args = {revision: Args.string({description: 'NAME@N', required: true})}

  public async run(): Promise<unknown> {
    const {args, flags} = await this.parse(ImageRm)
    const removed = await removeRevision(this.makeContext(flags.root), args.revision)
    this.log(`removed ${removed}`)
    return {removed}
  }
}
