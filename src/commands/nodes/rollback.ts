import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {rollbackNode, type RollbackResult} from '../../services/nodes-rollback.js'
import {EXIT_TABLE} from '../../errors.js'
import {applyReport} from '../../cli/apply-report.js'

export default class NodesRollback extends BaseCommand {
  static aliases = ['node:rollback']
  static summary = 'Put a node back on the root it had before its last rebase'
  static description = `Swaps the node's root with <name>.previous and switches its revision back; running it again
swaps forward. Refuses a root that looks mounted by an NFS client unless --force.\n\n${EXIT_TABLE}`
  static args = {node: Args.string({description: 'node name', required: true})}
  static flags = {
    force: Flags.boolean({description: 'roll back even if the root looks mounted by a client'}),
    reload: Flags.boolean({description: 'reload the services whose files changed (--no-reload to skip)', default: true, allowNo: true}),
  }

  public async run(): Promise<RollbackResult> {
    const {args, flags} = await this.parse(NodesRollback)
    const result = await rollbackNode(this.makeContext(flags.root), args.node, {force: flags.force, reload: flags.reload})
    if (!this.jsonEnabled()) {
      this.log(`${result.node}: ${result.from ?? '?'} → ${result.image ?? '?'}`)
      if (result.apply) process.stdout.write(applyReport(result.apply))
    }
    return result
  }
}
