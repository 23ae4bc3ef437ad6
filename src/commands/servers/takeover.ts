import {Args, Flags} from '@oclif/core'

import {applyReport} from '../../cli/apply-report.js'
import {BaseCommand} from '../../cli/base-command.js'
import {applyFlags} from '../../cli/flags.js'
import {EXIT_TABLE} from '../../errors.js'
import {takeOver, type TakeoverResult} from '../../services/servers-takeover.js'

export default class ServersTakeover extends BaseCommand {
  static summary = 'Export the roots a lost server held from this one (and take its address)'
  static description = `Run on the server taking over. Every node whose root LOST held is given to this server (the
inventory's server), and this server's share is applied: their exports are added, each with the
Export_Id its address gives it on every server. The roots must be reachable here: a takeover moves
which server exports a root, not the root (roots on the lost server's own disk are refused).
--address also puts LOST's boot address on this server's boot interface (until the next reboot:
keepalived or the network's configuration keeps it), so the nodes already running, which mounted
their roots from it over NFSv3, carry on; nodes that boot later mount from this server. DHCP
needs no takeover: with Kea, the standby takes over by itself.\n\n${EXIT_TABLE}`
  static examples = ['<%= config.bin %> servers takeover boot1 --to boot2 --address']
  static args = {lost: Args.string({description: 'the server that was lost', required: true})}
  static flags = {
    to: Flags.string({description: 'the server taking over: this one', required: true, helpValue: 'NAME'}),
    address: Flags.boolean({description: 'also take the lost server\'s boot address on this server\'s boot interface'}),
    ...applyFlags,
  }

  public async run(): Promise<TakeoverResult> {
    const {args, flags} = await this.parse(ServersTakeover)
    const result = await takeOver(this.makeContext(flags.root, {server: flags.to}), {lost: args.lost, to: flags.to, address: flags.address, dryRun: flags['dry-run'], reload: flags.reload})
    if (!this.jsonEnabled()) {
      this.log(`${result.to} ${result.dryRun ? 'would take' : 'takes'} over the roots ${result.lost} held: ${result.moved.join(', ')}`)
      if (result.address) this.log('skipped' in result.address ? `address: not taken (${result.address.skipped})` : `address: ${result.address.cidr} on ${result.address.iface}${result.address.added ? '' : ' (already there)'}${result.address.announced ? ', announced (arping -U)' : ', not announced: install iputils-arping so that running nodes find it at once'}`)
      process.stdout.write(applyReport(result))
    }
    return result
  }
}
