import {Args} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {rollbackImage} from '../../services/image-rollback.js'

export default class ImageRollback extends BaseCommand {
  static aliases = ['images:rollback']
  static description = 'Point an image\'s current revision back at the previous one'
  static args = {name: Args.string({description: 'image name', required: true})}

  public async run(): Promise<unknown> {
    const {args, flags} = await this.parse(ImageRollback)
    const r = await rollbackImage(this.makeContext(flags.root), args.name)
    this.log(`${args.name}: current ${args.name}@${r.from} -> ${args.name}@${r.to}`)
    return {image: args.name, ...r}
  }
}
