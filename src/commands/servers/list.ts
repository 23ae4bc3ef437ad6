import {BaseCommand} from '../../cli/base-command.js'
import {serverFlag} from '../../cli/flags.js'
import {serversReport} from '../../cli/servers-report.js'
import {EXIT_TABLE} from '../../errors.js'
import {listServers, type ServersResult} from '../../services/servers-list.js'

export default class ServersList extends BaseCommand {
  static summary = 'The boot servers of the site: reachable, role, Kea failover state, what each rendered, the roots it holds'
  static description = `Asks each server the way a node reaches it: its pxeroot/server.json over TFTP (what it last rendered with "pxeroot apply --server NAME"), and with Kea its HA hook's own state on its HA listener. Each question waits ${2} s at most. Reads only.\n\n${EXIT_TABLE}`
  static examples = ['<%= config.bin %> servers list', '<%= config.bin %> servers list --json']
  static flags = {...serverFlag}

  public async run(): Promise<ServersResult> {
    const {flags} = await this.parse(ServersList)
    const result = await listServers(this.makeContext(flags.root, {server: flags.server}))
    if (!this.jsonEnabled()) process.stdout.write(serversReport(result))
    return result
  }
}
