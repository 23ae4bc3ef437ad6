import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {EXIT_TABLE} from '../../errors.js'
import {addNodeEntry, type AddResult} from '../../services/nodes-add.js'
import {applyReport} from '../../cli/apply-report.js'
import {applyFlags, rootServerFlag} from '../../cli/flags.js'

export default class NodesAdd extends BaseCommand {
  static summary = 'Add a node: its address, optional MAC binding, and its boot entries'
  static description = `The node gets its export, pxelinux and GRUB entries and (with --mac) DHCP host entry at once, pointing at its root and its image's boot files even before the root exists.\n\n${EXIT_TABLE}`
  static aliases = ['node:add']
  static examples = ['<%= config.bin %> nodes add node03 --mac 52:54:00:12:34:56', '<%= config.bin %> nodes add node04 --ip 192.168.0.204', '<%= config.bin %> nodes add node07 --discovered']
  static args = {name: Args.string({description: 'node name (a hostname, e.g. node03)', required: true})}
  static flags = {
    ip: Flags.string({description: 'address (default: next free in the node range)'}),
    mac: Flags.string({description: 'bind the node to this MAC (fixed address, 01-<mac> pxelinux and GRUB files)'}),
    discovered: Flags.boolean({description: 'bind the node to a machine that PXE-booted against this server and is in no node ("pxeroot status" lists them): the one seen last, unless another was seen within the hour before it; with --mac, that one of them'}),
    image: Flags.string({description: 'image revision its root comes from, NAME@N'}),
    'kernel-args': Flags.string({description: 'extra kernel command line for this node'}),
    ...rootServerFlag,
    ...applyFlags,
  }

  public async run(): Promise<AddResult> {
    const {args, flags} = await this.parse(NodesAdd)
    const result = await addNodeEntry(this.makeContext(flags.root), args.name, {ip: flags.ip, mac: flags.mac, image: flags.image, kernelArgs: flags['kernel-args'], server: flags.server},
      {dryRun: flags['dry-run'], reload: flags.reload, discovered: flags.discovered})
    if (!this.jsonEnabled()) process.stdout.write(applyReport(result))
    return result
  }
}
