/**
 * The lab's other hosts (proxy mode's stand-in for the network's DHCP server): each a namespace
 * of its own on the lab's bridge, deleted with the lab's, and reaped with it when a run died.
 */
import {execa} from 'execa'
import {promises as fs} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {createLabNamespace, NETNS_PREFIX, reapStaleNamespaces} from '../../src/system/netns.js'
import {execaRunner} from '../../src/system/runner.js'

const runner = execaRunner()
const namespaces = async () => (await execa('ip', ['netns', 'list'])).stdout.split('\n').map((l) => l.split(' ')[0])

describe.skipIf(process.getuid?.() !== 0)('the lab network\'s other hosts', () => {
  it('joins a host to the bridge with its own address, and removes it with the lab', async () => {
    const runDir = await fs.mkdtemp(path.join(os.tmpdir(), 'pxeroot-netns-'))
    const name = `${NETNS_PREFIX}${process.pid}-a1b2c3`
    try {
      const ns = await createLabNamespace(runner, {name, serverCidr: '10.99.0.1/24', runDir})
      const host = await ns.addHost('router', '10.99.0.254/24')
      expect((await execa('ip', ['-n', name, '-o', 'link', 'show', 'to-router'])).stdout).toContain('master br0')
      const [cmd, args] = host.inHost('ip', ['-o', '-4', 'addr', 'show', host.iface])
      expect((await execa(cmd, args)).stdout).toContain('inet 10.99.0.254/24')
      expect(await namespaces()).toEqual(expect.arrayContaining([name, `${name}-router`]))
      expect(await ns.destroy()).toEqual([])
      expect((await namespaces()).filter((n) => n.startsWith(name))).toEqual([])
    } finally {
      await execa('umount', [path.join(runDir, 'ns')], {reject: false})
      await fs.rm(runDir, {recursive: true, force: true})
    }
  })

  it('reaps a dead run\'s hosts with its namespace', async () => {
    const dead = (await execa('sh', ['-c', 'echo $$'])).stdout.trim()
    const name = `${NETNS_PREFIX}${dead}-d4e5f6`
    for (const n of [name, `${name}-router`]) await execa('ip', ['netns', 'add', n])
    const reaped = await reapStaleNamespaces(runner)
    expect(reaped).toEqual(expect.arrayContaining([name, `${name}-router`]))
    expect((await namespaces()).filter((n) => n.startsWith(name))).toEqual([])
  })
})
