import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {type ExportResult} from '../../images/archive.js'
import {exportRevision} from '../../services/image-export.js'

export default class ImageExport extends BaseCommand {
  static aliases = ['images:export']
  static description = `Write a revision to a zstd tar archive

The archive keeps numeric ownership, modes, hard links, symlinks, device nodes, FIFOs, ACLs and
extended attributes (file capabilities such as ping's), with manifest.json as its first member.
It is written under a temporary name and renamed when complete.`

  static examples = ['<%= config.bin %> image export lab@3 lab-3.tar.zst', '<%= config.bin %> image export lab /backup/lab.tar.zst']

  static args = {
    revision: Args.string({description: 'NAME@N, or NAME for its current revision', required: true}),
    file: Args.string({description: 'archive to write (conventionally NAME-N.tar.zst)', required: true}),
  }

  static flags = {
    force: Flags.boolean({description: 'replace the archive if it exists'}),
  }

  public async run(): Promise<ExportResult> {
    const {args, flags} = await this.parse(ImageExport)
    const ctx = this.makeContext(flags.root)
    const result = await exportRevision(ctx, args.revision, args.file, {force: flags.force})
    if (!ctx.json) this.log(`exported ${result.revision} to ${result.archive} (${(result.bytes / 1024 / 1024).toFixed(1)} MiB)`)
    return result
  }
}
