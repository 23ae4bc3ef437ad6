import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {pruneNodes, type PruneResult} from '../../services/nodes-prune.js'
import {EXIT_TABLE, UserError} from '../../errors.js'

export default class NodesPrune extends BaseCommand {
  static aliases = ['node:prune']
  static summary = 'Delete the previous roots kept for rollback, and leftovers of interrupted runs'
  static description = `Without names, prunes every node (--all is the same). After this, "nodes rollback" has nothing
to go back to.\n\n${EXIT_TABLE}`
  static strict = false
  static args = {node: Args.string({description: 'node name(s)'})}
  static flags = {all: Flags.boolean({description: 'every node (the default without names)'})}

  public async run(): Promise<PruneResult> {
    const {argv, flags} = await this.parse(NodesPrune)
    const names = argv as string[]
    if (flags.all && names.length > 0) throw new UserError('name the nodes to prune or pass --all (not both)')
    const result = await pruneNodes(this.makeContext(flags.root), names.length > 0 ? names : 'all')
    if (!this.jsonEnabled()) {
      this.log(result.pruned.length === 0 ? 'No previous roots to delete.' : `deleted the previous root of ${result.pruned.join(', ')}`)
      for (const name of result.cleaned) this.log(`removed leftover ${name}`)
    }
    return result
  }
}
