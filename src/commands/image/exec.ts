import {Args} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {wordsInOrder} from '../../cli/words.js'
import {type ChangeResult} from '../../images/change.js'
import {execInImage} from '../../services/image-exec.js'

export function describeChange(r: ChangeResult): string {
  return r.revision === undefined
    ? `${r.image}: nothing changed; ${r.image}@${r.from.revision} stays current`
    : `${r.image}: published ${r.image}@${r.revision} (from ${r.image}@${r.from.revision}${r.changedPackages.length > 0 ? `, ${r.changedPackages.length} packages changed` : ''})`
}

export default class ImageExec extends BaseCommand {
  static aliases = ['images:exec']
  static description = 'Run a command in a working copy of an image (safe chroot); success with changes publishes a new revision'
  static examples = ['<%= config.bin %> image exec lab -- apt-get install -y htop']
  static strict = false
  static args = {name: Args.string({description: 'image name', required: true})}

  public async run(): Promise<unknown> {
    const {args, raw, flags} = await this.parse(ImageExec)
    const command = wordsInOrder(raw).slice(1)
    const r = await execInImage(this.makeContext(flags.root), args.name, command, this.config.version)
    this.logToStderr(describeChange(r))
    return {...r, from: `${r.from.image}@${r.from.revision}`}
  }
}
