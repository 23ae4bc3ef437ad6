import {Args} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {shellInImage} from '../../services/image-shell.js'
import {describeChange} from './exec.js'

export default class ImageShell extends BaseCommand {
  static aliases = ['images:shell']
  static description = 'Open a shell in a working copy of an image; "exit" publishes a new revision if anything changed, "exit 1" discards'
  static args = {name: Args.string({description: 'image name', required: true})}

  public async run(): Promise<unknown> {
    const {args, flags} = await this.parse(ImageShell)
    const r = await shellInImage(this.makeContext(flags.root), args.name, this.config.version)
    this.logToStderr(describeChange(r))
    return {...r, from: `${r.from.image}@${r.from.revision}`}
  }
}
