import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {pruneImage} from '../../services/image-prune.js'

export default class ImagePrune extends BaseCommand {
  static aliases = ['images:prune']
  static description = 'Remove old revisions and their boot files; the current one and any a node uses are always kept'
  static args = {name: Args.string({description: 'image name', required: true})}
  static flags = {keep: Flags.integer({description: 'newest revisions to keep', required: true, min: 1})}

  public async run(): Promise<unknown> {
    const {args, flags} = await this.parse(ImagePrune)
    const r = await pruneImage(this.makeContext(flags.root), args.name, flags.keep)
    this.log(r.removed.length > 0 ? `removed ${r.removed.join(', ')}; kept ${r.kept.join(', ')}` : `nothing to remove; kept ${r.kept.join(', ')}`)
    for (const [revision, roots] of Object.entries(r.held)) this.log(`kept ${revision}: still has clones (${roots.join(', ')})`)
    return {image: args.name, ...r}
  }
}
