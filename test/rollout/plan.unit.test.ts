/**
 * A rollout's plan, record words and report, and the durations its flags take: pure. The
 * rollout itself, with BMCs and VMs, is test/lab/rollout.test.ts.
 */
import {describe, expect, it} from 'vitest'

import {formatDuration, parseDuration} from '../../src/config/duration.js'
import {parseInventory} from '../../src/inventory/inventory.js'
import {planRollout, waveName} from '../../src/rollout/plan.js'
import {type NodeRecord, type RolloutRecord, rolloutId} from '../../src/rollout/record.js'
import {rolloutReport} from '../../src/rollout/report.js'

const inventory = parseInventory([
  'nodes:',
  ...['01', '02', '03', '04', '05', '06', '07'].map((n, i) => `  - {name: node${n}, ip: 192.168.0.2${n}, image: ${i === 6 ? 'gpu@1' : i === 5 ? 'lab@2' : 'lab@1'}}`),
  '  - {name: node08, ip: 192.168.0.208}',
  '',
].join('\n'))

describe('a rollout\'s plan', () => {
  const toLab2 = (named: boolean) => (image: string) => (named || image.startsWith('lab@') ? 'lab@2' : undefined)

  it('--all: the image\'s nodes not on the revision yet, the canary alone first, then waves', () => {
    const plan = planRollout(inventory, 'all', toLab2(false), {canary: 1, wave: 2})
    expect(plan.moves.map((m) => `${m.name} ${m.from}→${m.to}`)).toEqual(['node01 lab@1→lab@2', 'node02 lab@1→lab@2', 'node03 lab@1→lab@2', 'node04 lab@1→lab@2', 'node05 lab@1→lab@2'])
    expect(plan.already).toEqual(['node06'])
    expect(plan.waves).toEqual([['node01'], ['node02', 'node03'], ['node04', 'node05']])
    expect(plan.waves.map((_, i) => waveName(i, plan.canary))).toEqual(['canary', 'wave 1', 'wave 2'])
    const noCanary = planRollout(inventory, 'all', toLab2(false), {canary: 0, wave: 4})
    expect(noCanary.waves).toEqual([['node01', 'node02', 'node03', 'node04'], ['node05']])
    expect(noCanary.waves.map((_, i) => waveName(i, noCanary.canary))).toEqual(['wave 1', 'wave 2'])
  })

  it('named nodes go where they are told; a node without a root is refused, not skipped', () => {
    expect(planRollout(inventory, ['node07', 'node02'], toLab2(true), {canary: 1, wave: 5}).waves).toEqual([['node02'], ['node07']])
    expect(() => planRollout(inventory, ['node08'], toLab2(true), {canary: 1, wave: 5})).toThrow(/node08 has no root to move/)
    // --latest of one image leaves the others' nodes alone, and refuses them by name.
    expect(() => planRollout(inventory, ['node07'], (image) => (image.startsWith('lab@') ? 'lab@2' : undefined), {canary: 1, wave: 5})).toThrow(/node07 is on gpu@1, another image/)
  })
})

describe('durations', () => {
  it('reads 600, 90s, 10m, 1h30m; refuses anything else', () => {
    expect([parseDuration('600'), parseDuration('90s'), parseDuration('10m'), parseDuration('1h30m'), parseDuration(45)]).toEqual([600, 90, 600, 5400, 45])
    expect([parseDuration('10 minutes'), parseDuration(''), parseDuration('m')]).toEqual([undefined, undefined, undefined])
    expect([formatDuration(600), formatDuration(90), formatDuration(5), formatDuration(3660)]).toEqual(['10m', '1m30s', '5s', '1h1m'])
  })
})

describe('a rollout\'s record and report', () => {
  const node = (name: string, step: NodeRecord['step'], extra: Partial<NodeRecord> = {}): NodeRecord => ({name, from: 'lab@1', to: 'lab@3', step, events: [], ...extra})
  const record: RolloutRecord = {
    format: 1, id: '20261204T160532Z', target: 'lab@3', started: '2026-12-04T16:05:32Z', state: 'failed', pid: 1,
    options: {canary: 1, wave: 2, timeout: 360, shutdownTimeout: 120},
    waves: [['node01'], ['node02', 'node03']],
    nodes: {node01: node('node01', 'rolled-back', {failure: 'it powered off while booting lab@3'}), node02: node('node02', 'pending'), node03: node('node03', 'pending')},
    already: [],
  }

  it('says in one screen what happened, node by node, and where the record is', () => {
    expect(rolloutReport(record)).toBe([
      'rollout 20261204T160532Z to lab@3: FAILED in the canary: node01 did not come up on it; 2 node(s) after it untouched',
      'WAVE    NODE    FROM   TO     RESULT',
      'canary  node01  lab@1  lab@3  rolled back to lab@1, up (it powered off while booting lab@3)',
      'wave 1  node02  lab@1  lab@3  untouched',
      'wave 1  node03  lab@1  lab@3  untouched',
      'canary 1, waves of 2, 6m to come up; record: /var/lib/pxeroot/rollouts/20261204T160532Z.json',
      '',
    ].join('\n'))
  })

  it('ids sort by start time and never collide', () => {
    const at = new Date('2026-12-04T16:05:32.123Z')
    expect(rolloutId(at, () => false)).toBe('20261204T160532Z')
    expect(rolloutId(at, (id) => id === '20261204T160532Z')).toBe('20261204T160532Z-2')
  })
})
