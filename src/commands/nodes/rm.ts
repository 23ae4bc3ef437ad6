import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../base-command.js'
import {EXIT_TABLE} from '../../errors.js'
import {changeInventory, type ChangeResult} from '../../nodes/change.js'
import {removeNode} from '../../nodes/edit.js'
import {applyReport} from '../../ui/apply-report.js'
import {applyFlags} from '../../ui/flags.js'

export default class NodesRm extends BaseCommand {
  static summary = 'Remove a node and its boot entries'
  static description = `Its export, DHCP host entry and pxelinux file are removed.\n\n${EXIT_TABLE}`
  static aliases = ['node:rm', 'nodes:remove']
  static args = {name: Args.string({description: 'node name', required: true})}
  static flags = {
    'keep-root': Flags.boolean({description: "keep the node's root directory on disk"}),
    ...applyFlags,
  }

  public async run(): Promise<ChangeResult> {
    const {args, flags} = await this.parse(NodesRm)
    const result = await changeInventory(this.makeContext(flags.root), (_site, inventory) => removeNode(inventory, args.name),
      {dryRun: flags['dry-run'], reload: flags.reload})
    if (!this.jsonEnabled()) process.stdout.write(applyReport(result))
    return result
  }
}
