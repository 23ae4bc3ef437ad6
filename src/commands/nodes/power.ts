import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {table} from '../../cli/table.js'
import {EXIT_TABLE, UserError} from '../../errors.js'
import {POWER_VERBS, powerNodes, type PowerResult, type PowerVerb} from '../../services/nodes-power.js'

export function powerReport(result: PowerResult): string {
  return table(['NAME', 'BMC', 'POWER', 'RESULT'], result.nodes.map((n) => [n.name, `${n.driver} ${n.bmc}`, n.power ?? '?', n.ok ? n.message || 'ok' : `FAILED: ${n.message}`]))
}

export default class NodesPower extends BaseCommand {
  static aliases = ['node:power']
  static summary = 'Power nodes on or off, or ask their power state, through their BMCs (IPMI or Redfish)'
  static description = `The last word is what to do: status; on; off (at once, as pulling the plug); soft (ask the OS to
shut down, as a power-button press); cycle (off, then on). Nodes are names or ranges of names
(node01..node10), or --all. Each node's BMC is in the inventory (pxeroot nodes set NODE --bmc ADDR
--bmc-user USER --bmc-password-file FILE); its password in /etc/pxeroot/bmc-secrets (root only) or
PXEROOT_BMC_PASSWORD. IPMI BMCs are driven with ipmitool over LAN (lanplus), the password passed
in its environment, never on its command line; Redfish BMCs over HTTPS. A node with no BMC or no
password refuses the whole request before any BMC is contacted. on, off, soft and cycle wait, up to
--timeout, for the BMC to report the state.\n\n${EXIT_TABLE}`

  static examples = ['<%= config.bin %> nodes power node01..node10 status', '<%= config.bin %> nodes power node03 soft --timeout 120', '<%= config.bin %> nodes power --all on --json']
  static strict = false
  static args = {words: Args.string({description: `NODE... then one of ${POWER_VERBS.join(', ')}`})}
  static flags = {
    all: Flags.boolean({description: 'every node of the inventory'}),
    timeout: Flags.integer({description: 'seconds to wait for the state asked for', default: 60, min: 1}),
  }

  public async run(): Promise<PowerResult> {
    const {argv, flags} = await this.parse(NodesPower)
    const words = argv as string[]
    const verb = words.at(-1) as PowerVerb | undefined
    if (!verb || !(POWER_VERBS as readonly string[]).includes(verb)) {
      throw new UserError(`the last word must say what to do: ${POWER_VERBS.join(', ')}${verb ? ` (not "${verb}")` : ''}`, 'e.g. "pxeroot nodes power node01..node10 status"')
    }
    const names = words.slice(0, -1)
    if (flags.all === names.length > 0) throw new UserError('name the nodes or pass --all (not both)', 'e.g. "pxeroot nodes power node01 node02 on"')
    try {
      const result = await powerNodes(this.makeContext(flags.root), {nodes: flags.all ? 'all' : names, verb, timeout: flags.timeout})
      if (!this.jsonEnabled()) process.stdout.write(powerReport(result))
      return result
    } catch (error) {
      const result = (error as {result?: PowerResult}).result
      if (result && !this.jsonEnabled()) process.stdout.write(powerReport(result))
      throw error
    }
  }
}
