import {summaryLine} from '../status/node-status.js'
import {type MilestoneId} from './milestones.js'
import {type LabBootResult, type LabNodeResult} from './run.js'

/** What a milestone line adds: the addresses each DHCP client got, the name on the prompt. */
function detail(node: LabNodeResult, id: MilestoneId): string {
  const reached = node.milestones.find((m) => m.id === id)?.seconds !== undefined
  if (id === 'lease') return ` (firmware ${node.addresses.firmware ?? '?'}, initramfs ${node.addresses.initramfs ?? '?'})`
  if (id === 'login' && reached) return ` (${node.name})`
  return ''
}

/** One node's lines of a report: its milestones with their times, then PASS or FAIL and why. */
export function nodeReport(node: LabNodeResult): string[] {
  const out: string[] = []
  const binding = node.boundBy === 'mac' ? `bound by MAC ${node.mac}` : `bound by address (lab MAC ${node.mac})`
  out.push(`${node.name}  ${node.ip}  ${binding}  ${node.config}`)
  for (const m of node.milestones) {
    out.push(`  ${m.seconds === undefined ? '      -' : `${m.seconds.toFixed(1).padStart(5)} s`}  ${m.label}${detail(node, m.id)}`)
    // The boot's big transfer, from the server side's own records: what TFTP and HTTP are compared on.
    if (m.id === 'initrd' && node.kernelInitrd) out.push(`           kernel + initrd: ${node.kernelInitrd.seconds.toFixed(1)} s over ${node.kernelInitrd.over.toUpperCase()}`)
  }
  if (node.passed) {
    const dns = node.nameservers.length > 0 ? `, nameservers ${node.nameservers.join(' ')}${node.search.length > 0 ? ` (search ${node.search.join(' ')})` : ''}` : ', no nameservers'
    const root = node.root ? `, / on ${node.root.source} (${node.root.fstype})` : ''
    out.push(`  PASS  hostname ${node.hostname ?? '?'}, machine-id ${node.machineId ?? '?'}${root}${dns}`)
  } else {
    out.push(`  FAIL  missed: ${node.missed ?? '?'}${node.reason ? ` (${node.reason})` : ''}`)
    if (node.serialLog) out.push(`        serial console: ${node.serialLog}`)
  }
  if (node.shutdown) out.push(`  ${node.shutdown.clean ? `shut down cleanly in ${node.shutdown.seconds.toFixed(1)} s` : `did not shut down cleanly (stopped after ${node.shutdown.seconds.toFixed(1)} s)`}`)
  return out
}

/** The human report: each node's milestones with their times, then PASS or FAIL and why. */
export function labReport(result: LabBootResult): string {
  const out: string[] = result.nodes.flatMap(nodeReport)
  if (result.status) {
    // What `pxeroot status` said of the whole site, read from the lab's servers before teardown.
    out.push(`status: ${result.status.nodes.map((n) => `${n.name} ${n.state.toUpperCase()}`).join(', ')}; ${summaryLine(result.status.summary)}`)
    for (const n of result.status.nodes) for (const p of n.problems) out.push(`  ${n.name}: ${p}`)
  }
  const passed = result.nodes.filter((n) => n.passed).length
  out.push(`${passed} of ${result.nodes.length} node(s) booted in ${result.seconds.toFixed(0)} s (${result.accel.toUpperCase()})${result.logs ? `; logs in ${result.logs}` : ''}`)
  return out.join('\n') + '\n'
}
