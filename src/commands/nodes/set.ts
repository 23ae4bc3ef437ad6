import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {EXIT_TABLE} from '../../errors.js'
import {type ChangeResult} from '../../services/inventory-change.js'
import {setNodeEntry} from '../../services/nodes-set.js'
import {applyReport} from '../../cli/apply-report.js'
import {applyFlags, rootServerFlag} from '../../cli/flags.js'

export default class NodesSet extends BaseCommand {
  static summary = "Change a node's address, MAC binding, image revision or kernel arguments"
  static description = `Rewrites the node's boot entries to match.\n\n${EXIT_TABLE}`
  static aliases = ['node:set']
  static examples = ['<%= config.bin %> nodes set node03 --mac 52:54:00:12:34:56', '<%= config.bin %> nodes set node03 --no-mac']
  static args = {name: Args.string({description: 'node name', required: true})}
  static flags = {
    ip: Flags.string({description: 'new address'}),
    mac: Flags.string({description: 'bind the node to this MAC', exclusive: ['no-mac']}),
    'no-mac': Flags.boolean({description: 'drop the MAC binding: the node is bound by address again'}),
    image: Flags.string({description: 'image revision NAME@N'}),
    'kernel-args': Flags.string({description: 'extra kernel command line ("" to clear)'}),
    ...rootServerFlag,
    ...applyFlags,
  }

  public async run(): Promise<ChangeResult> {
    const {args, flags} = await this.parse(NodesSet)
    const mac = flags['no-mac'] ? null : flags.mac
    const result = await setNodeEntry(this.makeContext(flags.root), args.name, {ip: flags.ip, mac, image: flags.image, kernelArgs: flags['kernel-args'], server: flags.server},
      {dryRun: flags['dry-run'], reload: flags.reload})
    if (!this.jsonEnabled()) process.stdout.write(applyReport(result))
    return result
  }
}
