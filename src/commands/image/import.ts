import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {type ImportResult} from '../../images/archive.js'
import {importArchive} from '../../services/image-import.js'

export default class ImageImport extends BaseCommand {
  static aliases = ['images:import']
  static description = `Make an archive written by "image export" the next revision of an image

The revision is unpacked into a staging directory, its kernel and initrd are published to the
tftp root, and it is promoted by one rename and becomes current. A file that is not a pxeroot
export (no manifest.json first, members outside rootfs/) is refused before anything is written.`

  static examples = ['<%= config.bin %> image import lab-3.tar.zst', '<%= config.bin %> image import lab-3.tar.zst --name lab2']

  static args = {
    file: Args.string({description: 'archive written by "pxeroot image export"', required: true}),
  }

  static flags = {
    name: Flags.string({description: 'image to add the revision to (default: the image it was exported from)'}),
  }

  public async run(): Promise<ImportResult> {
    const {args, flags} = await this.parse(ImageImport)
    const ctx = this.makeContext(flags.root)
    const result = await importArchive(ctx, args.file, {name: flags.name})
    if (!ctx.json) this.log(`imported ${result.from} as ${result.revision} (kernel ${result.kernel}); it is now current`)
    return result
  }
}
