/**
 * Machines that PXE-boot against this server but are in no node (issue 20): status lists them
 * with when they were seen and what they asked for, and `nodes add NAME --discovered` adopts one.
 * Lease files are the real ones of fixtures/leases/, log lines as rsyslog writes them on Debian 12.
 */
import {promises as fs} from 'node:fs'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {parseIscLeases} from '../../src/backends/dhcp/leases.js'
import {statusReport} from '../../src/commands/status.js'
import {UserError} from '../../src/errors.js'
import {loadInventory} from '../../src/inventory/inventory.js'
import {addNodeEntry} from '../../src/services/nodes-add.js'
import {readStatus} from '../../src/services/status.js'
import {lastFetches} from '../../src/status/fetches.js'
import {pickDiscovered, unknownMachines, type UnknownMachine} from '../../src/status/unknown.js'
import {makeContext} from '../../src/system/context.js'
import {fakeRunner} from '../support/fakes.js'
import {FIXTURES, freshRootPerTest, seedSite, snapshotTree, testContext} from '../support/tmp-root.js'

const NOW = new Date('2026-11-27T15:22:00Z')
const SYSLOG = [
  // A machine the pool has no address for: it asked, got nothing.
  '2026-11-27T15:21:40.118203+00:00 server dhcpd[812]: DHCPDISCOVER from 52:54:00:00:00:f0 via eth0: network 192.168.0.0/24: no free leases',
  // dnsmasq answering as a proxy: the network's server gave the address.
  '2026-11-27T15:19:02.004411+00:00 server dnsmasq-dhcp[90]: 2841611433 PXE(eth0) 52:54:00:00:00:f1 proxy',
  // A per-MAC pxelinux file asked for by a machine in no node.
  '2026-11-27T15:18:30.552114+00:00 server in.tftpd[950]: RRQ from 192.168.0.240 filename pxelinux.cfg/01-52-54-00-00-00-f2',
  // The unknown machine that leased 192.168.0.230 fetched its loader.
  '2026-11-27T15:20:12.700000+00:00 server in.tftpd[951]: RRQ from 192.168.0.230 filename pxelinux.0',
  // node01 is bound by address: the machine leasing 192.168.0.201 is node01, whatever it asks.
  '2026-11-27T15:17:05.000000+00:00 server dhcpd[812]: DHCPDISCOVER from 52:54:00:00:00:a1 via eth0',
  '2026-11-27T15:17:06.000000+00:00 server dhcpd[812]: DHCPREQUEST for 192.168.0.201 (192.168.0.10) from 52:54:00:00:00:a1 via eth0',
  // node03 is bound to its MAC.
  'Nov 27 15:17:30 server dhcpd[812]: DHCPDISCOVER from 52:54:00:00:00:c3 via eth0',
].join('\n') + '\n'

const NODES = [{ip: '192.168.0.201'}, {ip: '192.168.0.202'}, {ip: '192.168.0.203', mac: '52:54:00:00:00:c3'}]

describe('unknown machines', () => {
  it('come from leases, DHCP requests and per-MAC TFTP requests; the machines of nodes do not, whether bound by MAC or by address', async () => {
    const {leases} = parseIscLeases(await fs.readFile(path.join(FIXTURES, 'leases/dhcpd-damaged.leases'), 'utf8'), NOW)
    const unknown = unknownMachines(NODES, {leases, logs: [SYSLOG], fetches: lastFetches([SYSLOG], NOW), leaseSeconds: 600, now: NOW})
    expect(unknown).toEqual([
      {mac: '52:54:00:00:00:f0', ip: null, seen: '2026-11-27T15:21:40.118Z', asked: ['DHCPDISCOVER: no free leases']},
      {mac: '52:54:00:00:00:e7', ip: '192.168.0.230', seen: '2026-11-27T15:20:12.700Z', asked: ['pxelinux.0', 'lease 192.168.0.230']},
      {mac: '52:54:00:00:00:f1', ip: null, seen: '2026-11-27T15:19:02.004Z', asked: ['PXE: proxy']},
      {mac: '52:54:00:00:00:f2', ip: null, seen: '2026-11-27T15:18:30.552Z', asked: ['pxelinux.cfg/01-52-54-00-00-00-f2']},
    ])
  })

  it('an expired lease still counts, said as such; without times the order is by MAC', () => {
    const unknown = unknownMachines([], {leases: [{ip: '192.168.0.230', mac: '52:54:00:00:00:e7', active: false}, {ip: '192.168.0.229', mac: '52:54:00:00:00:e6', active: true}], logs: [], fetches: new Map(), leaseSeconds: 600, now: NOW})
    expect(unknown.map((m) => [m.mac, m.asked[0], m.seen])).toEqual([['52:54:00:00:00:e6', 'lease 192.168.0.229', null], ['52:54:00:00:00:e7', 'lease 192.168.0.230 (expired or released)', null]])
  })
})

describe('--discovered picks', () => {
  const m = (mac: string, seen: string | null): UnknownMachine => ({mac, ip: null, seen, asked: ['DHCPDISCOVER']})
  const refusal = (f: () => unknown) => {
    try {
      f()
    } catch (error) {
      expect(error).toBeInstanceOf(UserError)
      return (error as Error).message
    }
    throw new Error('accepted')
  }

  it('the only machine seen, however long ago', () => {
    expect(pickDiscovered([m('52:54:00:00:00:f0', '2026-11-01T10:00:00Z')]).mac).toBe('52:54:00:00:00:f0')
  })

  it('the newest when the one before it was seen more than an hour earlier', () => {
    expect(pickDiscovered([m('52:54:00:00:00:f0', '2026-11-27T15:21:40Z'), m('52:54:00:00:00:e7', '2026-11-27T14:20:00Z')]).mac).toBe('52:54:00:00:00:f0')
  })

  it('refuses, listing them, when two were seen within the hour, or one at no known time', () => {
    expect(refusal(() => pickDiscovered([m('52:54:00:00:00:f0', '2026-11-27T15:21:40Z'), m('52:54:00:00:00:e7', '2026-11-27T15:20:12Z')])))
      .toBe('--discovered: 2 unknown machines were seen, too close together to tell which is meant: 52:54:00:00:00:f0 seen 2026-11-27T15:21:40Z, 52:54:00:00:00:e7 seen 2026-11-27T15:20:12Z')
    expect(refusal(() => pickDiscovered([m('52:54:00:00:00:f0', '2026-11-27T15:21:40Z'), m('52:54:00:00:00:e7', null)]))).toMatch(/too close together/)
  })

  it('with --mac, that one of them (any case, dashes or colons), and refuses a MAC that was not seen', () => {
    const two = [m('52:54:00:00:00:f0', '2026-11-27T15:21:40Z'), m('52:54:00:00:00:e7', '2026-11-27T15:20:12Z')]
    expect(pickDiscovered(two, '52-54-00-00-00-E7').mac).toBe('52:54:00:00:00:e7')
    expect(refusal(() => pickDiscovered(two, '52:54:00:00:00:99'))).toMatch(/^--discovered --mac 52:54:00:00:00:99: no unknown machine with this MAC was seen; seen: 52:54:00:00:00:f0 /)
  })

  it('refuses when nothing was seen', () => {
    expect(refusal(() => pickDiscovered([]))).toBe('--discovered: no machine outside the inventory has asked this server for a lease or a boot file')
  })
})

describe('status and nodes add --discovered on a server', () => {
  const tmp = freshRootPerTest()
  const put = async (hostPath: string, text: string) => {
    await fs.mkdir(path.dirname(path.join(tmp.dir, hostPath)), {recursive: true})
    await fs.writeFile(path.join(tmp.dir, hostPath), text)
  }
  // Log lines timed now, so the pick's hour is about them.
  const stamp = (secondsAgo: number) => new Date(Date.now() - secondsAgo * 1000).toISOString().replace('Z', '+00:00')

  it('status lists the unknown machines in words and in --json, not when asked about some nodes', async () => {
    await seedSite(tmp.dir, {nodes: true})
    await put('var/log/syslog', `${stamp(30)} server dhcpd[812]: DHCPDISCOVER from 52:54:00:00:00:f0 via eth0: network 192.168.0.0/24: no free leases\n`)
    const status = await readStatus(makeContext({root: tmp.dir, log: () => {}}))
    expect(status.unknown.map((u) => u.mac)).toEqual(['52:54:00:00:00:f0'])
    expect(statusReport(status)).toMatch(/\n1 unknown machine \(in no node; adopt one: pxeroot nodes add NAME --discovered \[--mac MAC\]\):\nMAC +ADDRESS +SEEN +ASKED FOR\n52:54:00:00:00:f0 +- +\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ +DHCPDISCOVER: no free leases\n/)
    expect((await readStatus(makeContext({root: tmp.dir, log: () => {}}), ['node01'])).unknown).toEqual([])
  })

  it('nodes add NAME --discovered binds the node to the machine seen, and refuses with the list, changing nothing, when two were', async () => {
    await seedSite(tmp.dir, {nodes: true})
    await put('var/log/syslog', `${stamp(30)} server dhcpd[812]: DHCPDISCOVER from 52:54:00:00:00:f0 via eth0: network 192.168.0.0/24: no free leases\n`)
    const lines: string[] = []
    // dhcpd -t accepts; the isolated exportfs answers as it does for good exports.
    const runner = fakeRunner((call) => (call.command === 'unshare' ? {stdout: '--etab--\n'} : undefined))
    const ctx = {...testContext(tmp.dir, runner), log: (l: string) => lines.push(l)}
    const added = await addNodeEntry(ctx, 'node07', {}, {discovered: true, reload: false})
    expect(added.discovered?.mac).toBe('52:54:00:00:00:f0')
    expect(lines).toContain('binding node07 to 52:54:00:00:00:f0, seen ' + added.discovered!.seen + ' asking for DHCPDISCOVER: no free leases')
    expect((await loadInventory(ctx.root)).nodes.find((n) => n.name === 'node07')?.mac).toBe('52:54:00:00:00:f0')
    // Adopted, it is no longer unknown.
    expect((await readStatus(ctx)).unknown).toEqual([])

    await fs.appendFile(path.join(tmp.dir, 'var/log/syslog'), `${stamp(20)} server dhcpd[812]: DHCPDISCOVER from 52:54:00:00:00:f1 via eth0\n${stamp(10)} server dhcpd[812]: DHCPDISCOVER from 52:54:00:00:00:f2 via eth0\n`)
    const before = await snapshotTree(tmp.dir)
    await expect(addNodeEntry(ctx, 'node08', {}, {discovered: true, reload: false})).rejects.toThrow(/^--discovered: 2 unknown machines were seen, too close together to tell which is meant: 52:54:00:00:00:f2 seen .*, 52:54:00:00:00:f1 seen /)
    expect(await snapshotTree(tmp.dir)).toEqual(before)
    const picked = await addNodeEntry(ctx, 'node08', {mac: '52:54:00:00:00:f1'}, {discovered: true, reload: false})
    expect(picked.discovered?.mac).toBe('52:54:00:00:00:f1')
  })
})
