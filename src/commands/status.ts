import {Args, Flags} from '@oclif/core'
import {setTimeout as sleep} from 'node:timers/promises'

import {BaseCommand} from '../cli/base-command.js'
import {serverFlag} from '../cli/flags.js'
import {serversReport} from '../cli/servers-report.js'
import {unknownReport, unreadableReport} from '../cli/lease-report.js'
import {table} from '../cli/table.js'
import {EXIT_TABLE} from '../errors.js'
import {readStatus, type StatusResult} from '../services/status.js'
import {summaryLine} from '../status/node-status.js'

/** The human view: one line per node, the problems to act on, then the summary. */
export function statusReport(s: StatusResult): string {
  const rows = s.nodes.map((n) => [
    n.name, n.ip, n.binding === 'mac' ? `mac ${n.mac}` : 'address', n.state.toUpperCase(),
    n.lease ? n.lease.mac : n.leaseRecorded ? '-' : 'not recorded', n.rootElsewhere ? `on ${n.server}` : n.rootMounted ? 'mounted' : '-', n.image ?? '-', n.behind === null ? '-' : String(n.behind),
    n.booted ? `${n.booted.revision ?? '?'}${n.booted.at ? ` ${n.booted.at.slice(5, 16).replace('T', ' ')}` : ''}` : '-',
    n.lastFetch ? `${n.lastFetch.file} ${n.lastFetch.at.slice(11, 19)}` : '-',
  ])
  const out = [table(['NAME', 'IP', 'BOUND BY', 'STATE', 'LEASED TO', 'ROOT', 'IMAGE', 'BEHIND', 'BOOTED', 'LAST FETCH'], rows)]
  for (const n of s.nodes) for (const p of n.problems) out.push(`${n.name}: ${p}\n`)
  if (s.servers) {
    out.push(`\n${serversReport({site: '', servers: s.servers}).replace(/site state .*\n$/, '')}`)
    if (s.nodes.some((n) => n.rootElsewhere)) out.push('a root another server holds ("on NAME") is mounted from there: such a node is UP by its lease alone; "pxeroot status" on that server shows its root\n')
  }
  out.push(unreadableReport(s.unreadableLeases), unknownReport(s.unknown))
  if (s.sources.leases === null) out.push('leases: the network\'s own DHCP server holds them (dhcp.mode: proxy); UP means the root is mounted\n')
  out.push(`${summaryLine(s.summary)}\n`)
  return out.join('')
}

export default class Status extends BaseCommand {
  static summary = 'Which nodes are up, and on what: leases, mounted roots, revisions, last boot fetch'
  static description = `Reads the live state from the real services, read-only: the active DHCP server's lease database, the NFS connections to this server (a booted node keeps its root mounted over TCP) or, for a node that maps its root from RBD, the cluster's clients of its clone, each node's revision and how far behind its image it is, the revision the node itself reported booting from its current root (and when), and the last boot file it fetched where the TFTP or web server logs it. A node is UP when it holds its lease and its root is mounted, LEASED when it holds its address but its root is not mounted (booting, or stuck before the mount), DOWN when neither. What needs an operator is listed under the table.\n\n${EXIT_TABLE}`
  static examples = ['<%= config.bin %> status', '<%= config.bin %> status node07 --json', '<%= config.bin %> status --watch 5']
  static strict = false
  static args = {nodes: Args.string({description: 'nodes to show (default: all)'})}
  static flags = {
    watch: Flags.integer({description: 'show it again every SECONDS until Ctrl-C: redrawn on a terminal, appended when piped', min: 1}),
    ...serverFlag,
  }

  public async run(): Promise<StatusResult> {
    const {argv, flags} = await this.parse(Status)
    const ctx = this.makeContext(flags.root, {server: flags.server})
    const names = argv as string[]
    let status = await readStatus(ctx, names)
    if (!flags.watch) {
      if (!this.jsonEnabled()) process.stdout.write(statusReport(status))
      return status
    }
    const tty = Boolean(process.stdout.isTTY) && !this.jsonEnabled()
    // Watching ends with Ctrl-C: that is how it is meant to end, so it exits 0.
    while (!ctx.signal.aborted) {
      if (this.jsonEnabled()) process.stdout.write(JSON.stringify(status) + '\n')
      else process.stdout.write(`${tty ? '\u001B[H\u001B[2J' : ''}${status.at}\n${statusReport(status)}`)
      await sleep(flags.watch * 1000, undefined, {signal: ctx.signal}).catch(() => undefined)
      if (!ctx.signal.aborted) status = await readStatus(ctx, names)
    }
    process.exitCode = 0
    this.exit(0)
    return status
  }
}
