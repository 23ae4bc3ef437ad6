import {Args, Flags} from '@oclif/core'

import {applyReport} from '../../cli/apply-report.js'
import {BaseCommand} from '../../cli/base-command.js'
import {applyFlags} from '../../cli/flags.js'
import {takeoverReport} from '../../cli/servers-report.js'
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
needs no takeover: with Kea, the standby takes over by itself.

LOST must be lost: if its TFTP server still answers (as "servers list" asks), the takeover is
refused (exit 3) unless --force, since two servers writing one root corrupt its ext4. On an rbd
gateway (storage.rbd.mode: gateway) the clients that hold or watch LOST's nodes' clones are
fenced first: their instance addresses blocklisted in the cluster (7 days), their exclusive locks
broken; then the clones are attached here and exported. A cluster that does not answer is refused
(exit 3), nothing attached. --dry-run shows whom it would fence and the export changes.\n\n${EXIT_TABLE}`
  static examples = ['<%= config.bin %> servers takeover boot1 --to boot2 --address']
  static args = {lost: Args.string({description: 'the server that was lost', required: true})}
  static flags = {
    to: Flags.string({description: 'the server taking over: this one', required: true, helpValue: 'NAME'}),
    address: Flags.boolean({description: 'also take the lost server\'s boot address on this server\'s boot interface'}),
    force: Flags.boolean({description: 'take over even though the lost server still answers (its RBD clients are fenced all the same)'}),
    ...applyFlags,
  }

  public async run(): Promise<TakeoverResult> {
    const {args, flags} = await this.parse(ServersTakeover)
    const result = await takeOver(this.makeContext(flags.root, {server: flags.to}), {lost: args.lost, to: flags.to, address: flags.address, force: flags.force, dryRun: flags['dry-run'], reload: flags.reload})
    if (!this.jsonEnabled()) {
      process.stdout.write(takeoverReport(result))
      process.stdout.write(applyReport(result))
    }
    return result
  }
}
