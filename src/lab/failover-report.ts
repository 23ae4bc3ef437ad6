import {haLine} from '../servers/probe.js'
import {type Booted, type FailoverResult, type RanOn} from './pair.js'
import {nodeReport} from './report.js'

const state = (s: {state: string} | {error: string}) => ('state' in s ? s.state : `no answer (${s.error})`)
const booted = (n: Booted) => [...nodeReport(n), `  answered by ${n.answeredBy.join(', ') || 'no server'}`]

/** One VM booted before the failover, after it. */
function ranOnLines(r: RanOn, standby: string): string[] {
  const out = [`${r.name} after the failover: ${r.running ? 'still running' : 'NOT running'}${r.nfsTrouble.length > 0 ? `; its console: ${r.nfsTrouble.join(' | ')}` : ', no trouble with its root on its console'}`]
  if (r.leaseOnStandby) out.push(`  ${standby}'s own lease database held its lease ${r.leaseOnStandby.ip} (${r.leaseOnStandby.mac}, ${r.leaseOnStandby.active ? 'active' : 'not active'}): Kea's lease updates`)
  if (r.writes) out.push(`  its writer: ${r.writes.atLoss} writes synced when the primary was lost, ${r.writes.last} at the end; longest wait between two: ${r.writes.longestGapSeconds} s`)
  return out
}

/** The human report of `lab failover`: each boot with its milestones and who answered it, the failover between them. */
export function failoverReport(r: FailoverResult): string {
  const out = [`${r.primary} (primary) and ${r.standby} (standby); Kea HA: ${r.primary} ${state(r.ha.primary)}, ${r.standby} ${state(r.ha.standby)}`]
  for (const n of r.before) out.push(...booted(n))
  out.push(`${r.primary}'s servers stopped: ${r.standby} ${r.failover.state}${r.failover.partnerDownSeconds === undefined ? '' : ` after ${r.failover.partnerDownSeconds.toFixed(1)} s`}`)
  if (r.takeover) out.push(`${r.standby} took over ${r.primary}'s roots and address ${r.takeover.seconds.toFixed(1)} s after it was lost`)
  if (r.servers) {
    for (const [when, views] of [['before', r.servers.before], ['after', r.servers.after]] as const) {
      out.push(`servers list ${when}: ${views.map((v) => `${v.name} ${v.reachable ? 'reachable' : 'UNREACHABLE'}, ${haLine(v)}${v.current ? ', current' : ''}`).join('; ')}`)
    }
  }
  for (const n of r.after) out.push(...booted(n))
  for (const ran of r.ranOn) out.push(...ranOnLines(ran, r.standby))
  out.push(`${r.passed ? 'PASS' : 'FAIL'}: failover from ${r.primary} to ${r.standby} in ${r.seconds.toFixed(0)} s (${r.accel.toUpperCase()})${r.logs ? `; logs in ${r.logs}` : ''}`)
  return out.join('\n') + '\n'
}
