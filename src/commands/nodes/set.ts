import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {EXIT_TABLE} from '../../errors.js'
import {type ChangeResult} from '../../services/inventory-change.js'
import {setNodeEntry} from '../../services/nodes-set.js'
import {applyReport} from '../../cli/apply-report.js'
import {applyFlags, rootServerFlag} from '../../cli/flags.js'
import {BMC_DRIVERS} from '../../inventory/inventory.js'

export default class NodesSet extends BaseCommand {
  static summary = "Change a node's address, MAC binding, image revision, kernel arguments or BMC"
  static description = `Rewrites the node's boot entries to match.

The BMC (for "nodes power" and "rollout"): --bmc ADDR --bmc-user USER [--bmc-driver ipmi|redfish]
--bmc-password-file FILE. The password (FILE's first line, "-" for standard input) is kept in
/etc/pxeroot/bmc-secrets (0600, root only), never in the inventory, a diff or the output;
PXEROOT_BMC_PASSWORD in the environment serves nodes without a line there. --no-bmc drops the
BMC and its password.\n\n${EXIT_TABLE}`
  static aliases = ['node:set']
  static examples = [
    '<%= config.bin %> nodes set node03 --mac 52:54:00:12:34:56',
    '<%= config.bin %> nodes set node03 --no-mac',
    '<%= config.bin %> nodes set node03 --bmc 10.0.1.103 --bmc-user admin --bmc-password-file /root/bmc-pass',
    '<%= config.bin %> nodes set node04 --bmc bmc04.example.com --bmc-driver redfish --bmc-user admin --bmc-ca /etc/pxeroot/bmc-ca.pem --bmc-password-file -',
  ]
  static args = {name: Args.string({description: 'node name', required: true})}
  static flags = {
    ip: Flags.string({description: 'new address'}),
    mac: Flags.string({description: 'bind the node to this MAC', exclusive: ['no-mac']}),
    'no-mac': Flags.boolean({description: 'drop the MAC binding: the node is bound by address again'}),
    image: Flags.string({description: 'image revision NAME@N'}),
    'kernel-args': Flags.string({description: 'extra kernel command line ("" to clear)'}),
    ...rootServerFlag,
    bmc: Flags.string({description: 'the BMC\'s address or DNS name (host:port for Redfish)', helpGroup: 'BMC', exclusive: ['no-bmc']}),
    'bmc-user': Flags.string({description: 'the user pxeroot logs in to the BMC as', helpGroup: 'BMC'}),
    'bmc-password-file': Flags.string({description: 'a file whose first line is the BMC password ("-": standard input); kept in /etc/pxeroot/bmc-secrets', helpGroup: 'BMC'}),
    'bmc-driver': Flags.option({options: BMC_DRIVERS, description: 'ipmi (IPMI over LAN, ipmitool) or redfish (HTTPS); default ipmi', helpGroup: 'BMC'})(),
    'bmc-cipher': Flags.integer({description: 'IPMI: the RMCP+ cipher suite (ipmitool -C); default: the BMC\'s best', min: 0, max: 17, helpGroup: 'BMC'}),
    'bmc-system': Flags.string({description: 'Redfish: the system to drive, e.g. /redfish/v1/Systems/1 (default: the only one)', helpGroup: 'BMC'}),
    'bmc-ca': Flags.string({description: 'Redfish: PEM file of the CA or certificate the BMC\'s certificate must be signed by', helpGroup: 'BMC'}),
    'bmc-insecure': Flags.boolean({description: 'Redfish: do not verify the BMC\'s certificate', helpGroup: 'BMC', allowNo: true}),
    'no-bmc': Flags.boolean({description: 'drop the node\'s BMC and its password', helpGroup: 'BMC'}),
    ...applyFlags,
  }

  public async run(): Promise<ChangeResult> {
    const {args, flags} = await this.parse(NodesSet)
    const mac = flags['no-mac'] ? null : flags.mac
    const bmcFields = {address: flags.bmc, user: flags['bmc-user'], driver: flags['bmc-driver'], cipher: flags['bmc-cipher'], system: flags['bmc-system'], ca: flags['bmc-ca'], insecure: flags['bmc-insecure']}
    const bmc = flags['no-bmc'] ? null : Object.values(bmcFields).some((v) => v !== undefined) ? bmcFields : undefined
    const result = await setNodeEntry(this.makeContext(flags.root), args.name, {ip: flags.ip, mac, image: flags.image, kernelArgs: flags['kernel-args'], bmc, server: flags.server},
      {dryRun: flags['dry-run'], reload: flags.reload, bmcPasswordFile: flags['bmc-password-file']})
    if (!this.jsonEnabled()) process.stdout.write(applyReport(result))
    return result
  }
}
