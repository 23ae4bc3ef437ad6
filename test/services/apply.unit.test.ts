/**
 * The apply service through its seams, without root or daemons: a fake runner stands in for
 * dhcpd -t and the isolated exportfs (both run for real in test/apply/apply.test.ts), and a disk
 * that fills half-way stands in for ENOSPC.
 */
import {promises as fs, readFileSync} from 'node:fs'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {ValidationError} from '../../src/errors.js'
import {applyConfig} from '../../src/services/apply.js'
import {makeContext} from '../../src/system/context.js'
import {diskFillingFiles, fakeRunner, type FakeCall} from '../support/fakes.js'
import {freshRootPerTest, seedSite, snapshotTree} from '../support/tmp-root.js'

const tmp = freshRootPerTest()

/** dhcpd -t and the isolated exportfs as they answer a good candidate. */
const accepting = (call: FakeCall) => (call.command === 'unshare' ? {stdout: '--etab--\n/srv/nodes/node01\t192.168.0.201(rw)\n'} : undefined)

describe('apply through fake daemons', () => {
  it('asks each daemon\'s checker about the candidate, and writes nothing when one refuses', async () => {
    await seedSite(tmp.dir, {nodes: true})
    const before = await snapshotTree(tmp.dir)
    // dhcpd names the candidate it was given, at the line of pxeroot's include that sets next-server.
    const atNextServer = (call: FakeCall) => {
      const candidate = call.args[call.args.indexOf('-cf') + 1]
      const line = readFileSync(candidate, 'utf8').split('\n').findIndex((l) => l.includes('next-server')) + 1
      return `${candidate} line ${line}: semicolon expected.`
    }
    const runner = fakeRunner((call) => (call.command === 'dhcpd' ? {exitCode: 1, stderr: atNextServer(call)} : accepting(call)))
    const error = await applyConfig(makeContext({root: tmp.dir, runner, log: () => {}}), {}).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ValidationError)
    expect((error as Error).message).toMatch(/dhcpd rejects pxeroot's \/etc\/dhcp\/pxeroot\.conf line \d+: semicolon expected/)
    expect(runner.calls.map((c) => c.command).sort()).toEqual(['dhcpd', 'unshare'])
    // The dhcpd candidate was written beside the live file (AppArmor) and is gone again.
    expect(await snapshotTree(tmp.dir)).toEqual(before)
  })

  it('leaves every file whole, old or new, when the disk fills half-way, and the next apply finishes', async () => {
    await seedSite(tmp.dir, {nodes: true})
    const files = diskFillingFiles(4)
    const ctx = makeContext({root: tmp.dir, runner: fakeRunner(accepting), files, log: () => {}})
    await expect(applyConfig(ctx, {})).rejects.toThrow(/ENOSPC/)
    // Nothing half-written: every file pxeroot renders is absent or complete, and no temp file is left.
    const left = [...(await snapshotTree(tmp.dir)).keys()]
    expect(left.filter((f) => path.basename(f).includes('.pxeroot-'))).toEqual([])
    for (const f of left.filter((p) => p.startsWith('var/lib/tftpboot/pxelinux.cfg/') && !p.endsWith('/'))) {
      expect(await fs.readFile(path.join(tmp.dir, f), 'utf8')).toMatch(/IPAPPEND 2\n$|LOCALBOOT 0\n$/)
    }
    const second = await applyConfig(makeContext({root: tmp.dir, runner: fakeRunner(accepting), log: () => {}}), {})
    expect(second.changes.length).toBeGreaterThan(0)
    const third = await applyConfig(makeContext({root: tmp.dir, runner: fakeRunner(accepting), log: () => {}}), {})
    expect(third.changes).toEqual([])
  })
})
