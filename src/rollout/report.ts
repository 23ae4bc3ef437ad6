import {formatDuration} from '../config/duration.js'
import {waveName} from './plan.js'
import {nodeOutcome, recordFile, type RolloutRecord} from './record.js'

function lineOf(record: RolloutRecord): string {
  const nodes = Object.values(record.nodes)
  const up = nodes.filter((n) => n.step === 'up').length
  const head = `rollout ${record.id} to ${record.target}`
  switch (record.state) {
    case 'done': return `${head}: done, ${up} node(s) up on the new revision${record.already.length > 0 ? `, ${record.already.length} already on it` : ''}`
    case 'running': return `${head}: running (pid ${record.pid})`
    case 'interrupted': return `${head}: interrupted; every node is on its old or its new revision ("pxeroot rollout resume", or the same rollout again, carries on)`
    case 'failed': {
      const failed = nodes.filter((n) => n.step === 'rolled-back' || n.step === 'stuck')
      const wave = record.waves.findIndex((w) => w.some((name) => failed.some((f) => f.name === name)))
      const untouched = nodes.filter((n) => n.step === 'pending').length
      return `${head}: FAILED in ${wave === 0 && record.options.canary > 0 ? 'the canary' : nameOf(record, wave)}: ${failed.map((f) => f.name).join(', ')} did not come up on it${untouched > 0 ? `; ${untouched} node(s) after it untouched` : ''}`
    }
  }
}

const nameOf = (record: RolloutRecord, i: number) => waveName(i, record.options.canary > 0)

/** One screen: what happened, node by node, and where the record is. Pure. */
export function rolloutReport(record: RolloutRecord): string {
  const rows = record.waves.flatMap((wave, i) => wave.map((name) => {
    const n = record.nodes[name]
    return [nameOf(record, i), name, n.from, n.to, nodeOutcome(n)]
  }))
  const widths = [6, 4, 4, 2].map((min, c) => Math.max(min, ...rows.map((r) => r[c].length)))
  const pad = (cells: string[]) => cells.map((cell, c) => (c < 4 ? cell.padEnd(widths[c]) : cell)).join('  ').trimEnd()
  const stuck = Object.values(record.nodes).filter((n) => n.step === 'stuck')
  return [
    lineOf(record),
    pad(['WAVE', 'NODE', 'FROM', 'TO', 'RESULT']),
    ...rows.map(pad),
    ...(record.already.length > 0 ? [`already there: ${record.already.join(', ')}`] : []),
    ...stuck.map((n) => `${n.name} needs a person: its root is whole, on one revision ("pxeroot nodes list"); see "pxeroot status ${n.name}" and its console`),
    `canary ${record.options.canary}, waves of ${record.options.wave}, ${formatDuration(record.options.timeout)} to come up; record: ${recordFile(record.id)}`,
    '',
  ].join('\n')
}
