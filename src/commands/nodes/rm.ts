import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {EXIT_TABLE} from '../../errors.js'
import {removeNodeAndRoot, type RemoveResult} from '../../services/nodes-rm.js'
import {applyReport} from '../../cli/apply-report.js'
import {applyFlags} from '../../cli/flags.js'

export default class NodesRm extends BaseCommand {
  static summary = 'Remove a node and its boot entries'
  static description = `Its export, DHCP host entry, pxelinux and GRUB files are removed first, then its root (and any previous root kept by rebase) unless --keep-root.\n\n${EXIT_TABLE}`
  static aliases = ['node:rm', 'nodes:remove']
  static args = {name: Args.string({description: 'node name', required: true})}
  static flags = {
    'keep-root': Flags.boolean({description: "keep the node's root directory on disk"}),
    ...applyFlags,
  }

  public async run(): Promise<RemoveResult> {
    const {args, flags} = await this.parse(NodesRm)
    const result = await removeNodeAndRoot(this.makeContext(flags.root), args.name, {dryRun: flags['dry-run'], reload: flags.reload, keepRoot: flags['keep-root']})
    if (!this.jsonEnabled()) {
      process.stdout.write(applyReport(result))
      for (const root of result.removedRoots) this.log(`removed ${root}`)
      if (flags['dry-run'] && !flags['keep-root']) this.log(`would remove the root of ${args.name} (keep it with --keep-root)`)
    }
    return result
  }
}
