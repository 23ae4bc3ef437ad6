/**
 * Bad input to apply is refused before anything is written (the fast tier: refused before any
 * checker runs, so the fake runner is never asked; apply.test.ts runs the real dhcpd -t and exportfs).
 */
import {promises as fs} from 'node:fs'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {applyBootConfig} from '../../src/apply/apply.js'
import {UserError} from '../../src/errors.js'
import {fakeRunner} from '../support/fakes.js'
import {freshRootPerTest, seedSite, snapshotTree, testContext} from '../support/tmp-root.js'

const tmp = freshRootPerTest()

describe('bad input is refused before anything is written', () => {
  const cases: [string, string, RegExp][] = [
    ['duplicate MAC differing only in case', '  - {name: a1, ip: 192.168.0.201, mac: "52:54:00:AA:BB:01"}\n  - {name: a2, ip: 192.168.0.202, mac: "52:54:00:aa:bb:01"}\n', /mac 52:54:00:aa:bb:01 is already used by node "a1"/],
    ['duplicate IP', '  - {name: a1, ip: 192.168.0.201}\n  - {name: a2, ip: 192.168.0.201}\n', /ip 192.168.0.201 is already used/],
    ['IP outside the subnet', '  - {name: a1, ip: 10.0.0.5}\n', /ip 10.0.0.5 is outside subnet 192.168.0.0\/24/],
    ['fixed address in the dynamic pool', '  - {name: a1, ip: 192.168.0.230, mac: "52:54:00:00:00:01"}\n', /lies in the dynamic pool/],
    ['node name with ../', '  - {name: "../etc", ip: 192.168.0.201}\n', /name must be a hostname/],
    ['node name with a space', '  - {name: "node 1", ip: 192.168.0.201}\n', /name must be a hostname/],
  ]
  for (const [what, nodes, message] of cases) {
    it(what, async () => {
      await seedSite(tmp.dir, {site: 'server: 192.168.0.10\nsubnet: 192.168.0.0/24\nnodes: {range: 192.168.0.200-192.168.0.210}\npool: 192.168.0.220-192.168.0.240\n'})
      await fs.writeFile(path.join(tmp.dir, 'etc/pxeroot/nodes.yaml'), `nodes:\n${nodes}`)
      const before = await snapshotTree(tmp.dir)
      const error = await applyBootConfig(testContext(tmp.dir, fakeRunner())).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(UserError)
      expect((error as Error).message).toMatch(message)
      expect(await snapshotTree(tmp.dir)).toEqual(before)
    })
  }

  it('an export path with a space', async () => {
    await seedSite(tmp.dir, {site: 'server: 192.168.0.10\nsubnet: 192.168.0.0/24\nnodes: {range: 192.168.0.200-192.168.0.210}\nexports:\n  - {path: "/srv/my data", clients: 192.168.0.0/24}\n'})
    const before = await snapshotTree(tmp.dir)
    await expect(applyBootConfig(testContext(tmp.dir, fakeRunner()))).rejects.toThrow(/exports\.0\.path: must be an absolute path without spaces/)
    expect(await snapshotTree(tmp.dir)).toEqual(before)
  })
})
