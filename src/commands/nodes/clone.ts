import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {mib} from '../../storage/space.js'
import {cloneNodes, type CloneNodesResult} from '../../services/nodes-clone.js'
import {CLONE_METHODS} from '../../storage/backend.js'
import {EXIT_TABLE} from '../../errors.js'
import {applyReport} from '../../cli/apply-report.js'
import {applyFlags} from '../../cli/flags.js'

export default class NodesClone extends BaseCommand {
  static aliases = ['node:clone']
  static summary = 'Grow the cluster to COUNT nodes, each with its own root cloned from an image revision'
  static description = `Creates node01..nodeCOUNT (site nodes.prefix/width) that do not exist yet, with the next free
addresses of nodes.range, and leaves existing nodes alone. Each root is a btrfs snapshot, a reflink
copy (xfs/btrfs) or a full copy (cp -a; --method rsync still works) of the revision, with its own hostname, machine-id and SSH host
keys; then the boot configuration is applied so the new nodes boot.\n\n${EXIT_TABLE}`
  static examples = ['<%= config.bin %> nodes clone 10', '<%= config.bin %> nodes clone 16 --image lab@4 --dry-run']
  static args = {count: Args.integer({description: 'how many nodes there should be', required: true, min: 1})}
  static flags = {
    image: Flags.string({description: 'image revision NAME@N, or NAME for its current revision (default: site boot.image)'}),
    method: Flags.option({options: CLONE_METHODS, description: 'force a clone method instead of the fastest the filesystem allows'})(),
    ...applyFlags,
  }

  public async run(): Promise<CloneNodesResult> {
    const {args, flags} = await this.parse(NodesClone)
    const result = await cloneNodes(this.makeContext(flags.root), {count: args.count, image: flags.image, method: flags.method, dryRun: flags['dry-run'], reload: flags.reload})
    if (!this.jsonEnabled()) {
      const verb = result.dryRun ? 'would clone' : 'cloned'
      if (result.created.length === 0) this.log(`Nothing to clone: ${result.existing.length} node(s) already have roots.`)
      else {
        this.log(`${verb} ${result.created.length} node(s) from ${result.image} by ${result.method} (${result.reason}) in ${result.seconds.toFixed(2)} s; disk needed about ${mib(result.space.needed)}, ${mib(result.space.free)} free`)
        for (const c of result.created) this.log(`  ${c.name}  ${c.ip}`)
      }
      if (result.apply) process.stdout.write(applyReport(result.apply))
    }
    return result
  }
}
