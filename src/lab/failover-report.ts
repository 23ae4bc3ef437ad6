import {haLine} from '../servers/probe.js'
import {type FailoverResult} from './pair.js'
import {nodeReport} from './report.js'

const state = (s: {state: string} | {error: string}) => ('state' in s ? s.state : `no answer (${s.error})`)

/** The human report of `lab failover`: each boot with its milestones and who answered it, the failover between them. */
export function failoverReport(r: FailoverResult): string {
  const out = [`${r.primary} (primary) and ${r.standby} (standby); Kea HA: ${r.primary} ${state(r.before.primary)}, ${r.standby} ${state(r.before.standby)}`]
  out.push(...nodeReport(r.first), `  answered by ${r.first.answeredBy.join(', ') || 'no server'}`)
  if (r.leaseOnStandby) out.push(`${r.standby}'s own lease database holds ${r.first.name}'s lease ${r.leaseOnStandby.ip} (${r.leaseOnStandby.mac}, ${r.leaseOnStandby.active ? 'active' : 'not active'}): Kea's lease updates`)
  else out.push(`${r.standby}'s lease database has no lease of ${r.first.name}`)
  out.push(`${r.primary}'s servers stopped: ${r.standby} ${r.failover.state}${r.failover.partnerDownSeconds === undefined ? '' : ` after ${r.failover.partnerDownSeconds.toFixed(1)} s`}`)
  if (r.servers) {
    for (const [when, views] of [['before', r.servers.before], ['after', r.servers.after]] as const) {
      out.push(`servers list ${when}: ${views.map((v) => `${v.name} ${v.reachable ? 'reachable' : 'UNREACHABLE'}, ${haLine(v)}${v.current ? ', current' : ''}`).join('; ')}`)
    }
  }
  if (r.second) out.push(...nodeReport(r.second), `  answered by ${r.second.answeredBy.join(', ') || 'no server'}`)
  out.push(`${r.first.name} after the failover: ${r.firstAfter.running ? 'still running' : 'NOT running'}${r.firstAfter.nfsTrouble.length > 0 ? `; its console: ${r.firstAfter.nfsTrouble.join(' | ')}` : ', no trouble with its root on its console'}`)
  out.push(`${r.passed ? 'PASS' : 'FAIL'}: failover from ${r.primary} to ${r.standby} in ${r.seconds.toFixed(0)} s (${r.accel.toUpperCase()})${r.logs ? `; logs in ${r.logs}` : ''}`)
  return out.join('\n') + '\n'
}
