import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {CLONE_METHODS} from '../../storage/backend.js'
import {rebaseNodes, type RebaseResult} from '../../services/nodes-rebase.js'
import {EXIT_TABLE} from '../../errors.js'
import {UserError} from '../../errors.js'
import {applyReport} from '../../cli/apply-report.js'

export default class NodesRebase extends BaseCommand {
  static aliases = ['node:rebase']
  static summary = 'Move nodes to another image revision, keeping their node-local files'
  static description = `Clones the revision beside each node's root, copies the node-local paths (site clone.nodeLocal:
identity, host keys, /root, /home, /var/log...) across, and switches the node's revision (root,
export, kernel and initrd). The old root stays as <name>.previous for "nodes rollback" until
"nodes prune". Refuses a root that looks mounted by an NFS client unless --force.\n\n${EXIT_TABLE}`
  static examples = ['<%= config.bin %> nodes rebase node03 --image lab@5', '<%= config.bin %> nodes rebase --all --image lab']
  static strict = false
  static args = {node: Args.string({description: 'node name(s)'})}
  static flags = {
    all: Flags.boolean({description: 'every node that has a root'}),
    image: Flags.string({description: 'image revision NAME@N, or NAME for its current revision', required: true}),
    method: Flags.option({options: CLONE_METHODS, description: 'force a clone method'})(),
    force: Flags.boolean({description: 'rebase even if the root looks mounted by a client'}),
    reload: Flags.boolean({description: 'reload the services whose files changed (--no-reload to skip)', default: true, allowNo: true}),
  }

  public async run(): Promise<RebaseResult> {
    const {argv, flags} = await this.parse(NodesRebase)
    const names = argv as string[]
    if (flags.all === names.length > 0) throw new UserError('name the nodes to rebase or pass --all (not both)')
    const result = await rebaseNodes(this.makeContext(flags.root), {nodes: flags.all ? 'all' : names, image: flags.image, method: flags.method, force: flags.force, reload: flags.reload})
    if (!this.jsonEnabled()) {
      if (result.rebased.length === 0) this.log(`Nothing to rebase: ${result.unchanged.length} node(s) already on ${result.image}.`)
      else this.log(`rebased ${result.rebased.length} node(s) to ${result.image} by ${result.method} in ${result.seconds.toFixed(2)} s`)
      if (result.apply) process.stdout.write(applyReport(result.apply))
    }
    return result
  }
}
