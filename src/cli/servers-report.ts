import {haLine, type ServerView} from '../servers/probe.js'
import {type ServersResult} from '../services/servers-list.js'
import {type TakeoverResult} from '../services/servers-takeover.js'
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

/** What `servers takeover` did (or would do), before the apply's own lines: the roots, whether the lost server answered, whom it fenced, the address. */
export function takeoverReport(result: TakeoverResult): string {
  const would = result.dryRun
  const lines = [`${result.to} ${would ? 'would take' : 'takes'} over the roots ${result.lost} held: ${result.moved.join(', ')}`]
  const l = result.liveness
  lines.push(!l.asked ? `${result.lost}: not asked whether it is up (${l.why})`
    : l.up ? `${result.lost} answered at ${l.address}: taken over anyway (--force)` : `${result.lost} did not answer at ${l.address}: lost`)
  const f = result.fence
  if (f) {
    const holders = f.targets.filter((t) => t.lockers.length > 0 || t.watchers.length > 0)
    for (const t of holders) {
      const locks = t.lockers.map((k) => `${k.client} at ${k.address}`)
      lines.push(`fence ${t.image}: ${locks.length > 0 ? `locked by ${locks.join(', ')}` : 'not locked'}${t.watchers.length > 0 ? `, open by ${t.watchers.join(', ')}` : ''}`)
    }
    for (const t of f.targets.filter((t) => !holders.includes(t))) lines.push(`fence ${t.image}: no client holds it, nothing to fence`)
    for (const s of f.skipped) lines.push(`fence ${s.node}: left alone (${s.why})`)
    if (!f.done) {
      if (f.addresses.length > 0) lines.push(`would blocklist ${f.addresses.join(', ')} and break their locks (dry run: nothing was fenced)`)
    } else {
      if (f.done.blocklisted.length > 0) lines.push(`blocklisted ${f.done.blocklisted.join(', ')} for ${Math.round(f.done.expireSeconds / 86_400)} days (ceph osd blocklist ls)`)
      for (const b of f.done.broken) lines.push(`broke ${b.node}'s lock held by ${b.client} at ${b.address}`)
      if (f.attached.length > 0) lines.push(`attached ${f.attached.join(', ')} here`)
    }
  }
  if (result.address) lines.push('skipped' in result.address ? `address: not taken (${result.address.skipped})` : `address: ${result.address.cidr} on ${result.address.iface}${result.address.added ? '' : ' (already there)'}${result.address.announced ? ', announced (arping -U)' : ', not announced: install iputils-arping so that running nodes find it at once'}`)
  return lines.join('\n') + '\n'
}
