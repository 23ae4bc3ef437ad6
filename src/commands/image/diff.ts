import {Args} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {formatDiff, type RevisionDiff} from '../../images/diff.js'
import {diffRevisions} from '../../services/image-diff.js'

export default class ImageDiff extends BaseCommand {
  static aliases = ['images:diff']
  static description = 'Show what changed between two revisions: packages added, removed, upgraded, and the kernel'

  static examples = ['<%= config.bin %> image diff lab@2 lab@3', '<%= config.bin %> image diff lab@2 lab --json']

  static args = {
    from: Args.string({description: 'older revision, NAME@N (or NAME for its current revision)', required: true}),
    to: Args.string({description: 'newer revision, NAME@N (or NAME for its current revision)', required: true}),
  }

  public async run(): Promise<RevisionDiff> {
    const {args, flags} = await this.parse(ImageDiff)
    const ctx = this.makeContext(flags.root)
    const diff = await diffRevisions(ctx, args.from, args.to)
    if (!ctx.json) process.stdout.write(formatDiff(diff))
    return diff
  }
}
