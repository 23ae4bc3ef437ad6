import {haLine, type ServerView} from '../servers/probe.js'
import {type ServersResult} from '../services/servers-list.js'
import {table} from './table.js'

/** The human view: one line per server, then what to act on. */
export function serversReport(result: ServersResult): string {
  if (result.servers.length === 0) return 'The site has one server (server: in the site file); list several in servers: to share the site between them.\n'
  const rows = result.servers.map((s) => [
    s.self ? `${s.name} *` : s.name, s.address, s.role, s.reachable === null ? 'not asked' : s.reachable ? 'yes' : 'NO', haLine(s),
    s.record ? (s.current ? `current (${s.record.site})` : `OTHER (${s.record.site})`) : '-', String(s.roots.length),
  ])
  const out = [table(['SERVER', 'ADDRESS', 'ROLE', 'REACHABLE', 'DHCP FAILOVER', 'RENDERED', 'ROOTS'], rows)]
  const problems = result.servers.flatMap((s: ServerView) => s.problems.map((p) => `${s.name}: ${p}`))
  if (problems.length > 0) out.push(problems.map((p) => `! ${p}`).join('\n') + '\n')
  if (result.servers.some((s) => s.reachable === null)) out.push('not asked: --root is set, and the servers\' addresses are not this machine\'s network\'s\n')
  out.push(`site state ${result.site}${result.servers.some((s) => s.self) ? ' (* this server)' : ''}\n`)
  return out.join('')
}
