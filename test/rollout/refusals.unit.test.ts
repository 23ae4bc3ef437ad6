/**
 * What a rollout refuses before it touches a node, and what --dry-run shows, with a fake
 * ipmitool (the runner) on tiny synthetic revisions: nothing here needs root or a BMC. The
 * same refusals against real BMCs and VMs are in test/lab/rollout.test.ts.
 */
import {promises as fs} from 'node:fs'
import path from 'node:path'
import {beforeEach, describe, expect, it} from 'vitest'

import {installBootReport} from '../../src/images/boot-report.js'
import {rollout} from '../../src/services/rollout.js'
import {hostFiles} from '../../src/system/files.js'
import {type Runner} from '../../src/system/runner.js'
import {makeRevision, writeSite} from '../clone/helpers.js'
import {freshRootPerTest, testContext} from '../support/tmp-root.js'

const tmp = freshRootPerTest()

/** ipmitool as a BMC that answers `on` to everyone, or refuses the password. */
function ipmitool(answer: 'on' | 'refuse' = 'on'): Runner & {calls: string[]} {
  const calls: string[] = []
  return {
    calls,
    async run(command, args) {
      calls.push([command, ...args].join(' '))
      return answer === 'on' ? {exitCode: 0, stdout: 'Chassis Power is on', stderr: ''} : {exitCode: 1, stdout: '', stderr: '> RAKP 2 HMAC is invalid\nError: Unable to establish IPMI v2 / RMCP+ session'}
    },
  }
}

const record = (id: string, fields: Record<string, unknown>) => fs.writeFile(path.join(tmp.dir, 'var/lib/pxeroot/rollouts', `${id}.json`), JSON.stringify({
  format: 1, id, started: '2026-12-01T03:00:00Z', pid: 999_999_999, options: {canary: 1, wave: 5, timeout: 600, shutdownTimeout: 120}, waves: [['node01']], already: [], ...fields,
}))

describe('rollout before it touches a node', () => {
  beforeEach(async () => {
    await writeSite(tmp.dir)
    for (const n of [1, 2, 3]) {
      // lab@3 was built before the boot report.
      await makeRevision(tmp.dir, 'lab', n, async (d) => {
        await fs.mkdir(path.join(d, 'etc/systemd/system'), {recursive: true})
        if (n < 3) await installBootReport(hostFiles, d)
      }, false)
      const boot = path.join(tmp.dir, 'var/lib/tftpboot/pxeroot/lab', String(n))
      await fs.mkdir(boot, {recursive: true})
      for (const f of ['vmlinuz', 'initrd.img']) await fs.writeFile(path.join(boot, f), f)
    }
    await fs.writeFile(path.join(tmp.dir, 'etc/pxeroot/nodes.yaml'), [
      'nodes:',
      '  - {name: node01, ip: 192.168.0.201, image: lab@1, bmc: {address: 10.0.1.101, user: admin}}',
      '  - {name: node02, ip: 192.168.0.202, image: lab@1}',
      '',
    ].join('\n'))
    await fs.writeFile(path.join(tmp.dir, 'etc/pxeroot/bmc-secrets'), 'node01 s3cret\n', {mode: 0o600})
    await fs.mkdir(path.join(tmp.dir, 'var/lib/pxeroot/rollouts'), {recursive: true})
  })

  it('--dry-run: the waves and each node\'s power, from its BMC; nothing changed, nothing powered', async () => {
    const runner = ipmitool()
    const r = await rollout(testContext(tmp.dir, runner), {target: 'lab@2', nodes: ['node01'], dryRun: true})
    expect(r.plan).toMatchObject({moves: [{name: 'node01', from: 'lab@1', to: 'lab@2'}], waves: [['node01']], canary: true, power: {node01: 'on'}})
    expect(runner.calls).toEqual(['ipmitool -I lanplus -H 10.0.1.101 -U admin -E -N 2 -R 2 -v chassis power status'])
    expect(await fs.readdir(path.join(tmp.dir, 'var/lib/pxeroot/rollouts'))).toEqual([])
    expect(await rollout(testContext(tmp.dir, runner), {target: 'lab@1', nodes: 'all'})).toEqual({nothing: 'every node asked for is on its target already (node01, node02)'})
  })

  it('a node with no BMC, a BMC that refuses the password: one line each, no BMC told to do anything', async () => {
    const runner = ipmitool()
    await expect(rollout(testContext(tmp.dir, runner), {target: 'lab@2', nodes: 'all'})).rejects.toThrow(/^1 node\(s\) cannot be power-controlled, so nothing was rolled out:\n {2}node02: has no BMC/)
    expect(runner.calls).toEqual([])
    const refusing = ipmitool('refuse')
    const error = await rollout(testContext(tmp.dir, refusing), {target: 'lab@2', nodes: ['node01']}).catch((e: Error & {exitCode: number}) => e)
    expect(error).toMatchObject({exitCode: 2, message: '1 BMC(s) cannot be used, so no node was touched:\n  node01: the BMC at 10.0.1.101 refused user "admin" or its password (give the right one: pxeroot nodes set node01 --bmc-password-file FILE (or fix the user with --bmc-user))'})
    expect(refusing.calls.every((c) => c.endsWith('chassis power status'))).toBe(true)
  })

  it('a revision that cannot prove a boot, one a rollout found not to boot, and another target while one is interrupted', async () => {
    const runner = ipmitool()
    const ctx = testContext(tmp.dir, runner)
    await expect(rollout(ctx, {target: 'lab@3', nodes: ['node01']})).rejects.toThrow(/lab@3 was built before pxeroot's boot report.*/)
    await record('20261201T030000Z', {target: 'lab@2', state: 'failed', nodes: {node01: {name: 'node01', from: 'lab@1', to: 'lab@2', step: 'rolled-back', failure: 'it powered off while booting lab@2', events: []}}})
    await expect(rollout(ctx, {target: 'lab@2', nodes: ['node01']})).rejects.toThrow('lab@2 did not come up on node01 in rollout 20261201T030000Z (it powered off while booting lab@2); not tried again')
    expect((await rollout(ctx, {target: 'lab@2', nodes: ['node01'], retry: true, dryRun: true})).plan?.moves).toHaveLength(1)
    // Killed (its process is gone) while moving to lab@1: a rollout elsewhere waits for it.
    await record('20261202T030000Z', {target: 'lab@1', state: 'running', nodes: {node01: {name: 'node01', from: 'lab@2', to: 'lab@1', step: 'rebase', events: []}}})
    await expect(rollout(ctx, {target: 'lab@2', nodes: ['node01'], retry: true})).rejects.toThrow('rollout 20261202T030000Z to lab@1 was interrupted; carry it on first')
    expect(runner.calls.every((c) => c.endsWith('chassis power status'))).toBe(true)
  })
})
