/**
 * Lease entries that cannot be read are said, by file and line, for each server's format (issue
 * 20): the damaged files in fixtures/leases/ are the real ones of status.unit.test.ts with what a
 * crash, a full disk or a stray editor leaves (an entry cut short, a mangled MAC, address or time).
 */
import {promises as fs} from 'node:fs'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {parseDnsmasqLeases, parseIscLeases, parseKeaLeases} from '../../src/backends/dhcp/leases.js'
import {statusReport} from '../../src/commands/status.js'
import {parseSite} from '../../src/config/site-file.js'
import {leaseFiles} from '../../src/doctor/leases.js'
import {readStatus} from '../../src/services/status.js'
import {makeContext} from '../../src/system/context.js'
import {FIXTURES, freshRootPerTest, seedSite} from '../support/tmp-root.js'

const fixture = (name: string) => fs.readFile(path.join(FIXTURES, 'leases', name), 'utf8')
const DURING = new Date('2026-11-27T15:22:00Z')
const KEA_NOW = new Date(1_795_793_000_000)

describe('a damaged lease file', () => {
  it('ISC dhcpd.leases: a mangled MAC and an entry cut short are named by line; the good entries are still read', async () => {
    const {leases, unreadable} = parseIscLeases(await fixture('dhcpd-damaged.leases'), DURING)
    expect(leases.map((l) => [l.ip, l.mac])).toEqual([['192.168.0.201', '52:54:00:00:00:a1'], ['192.168.0.202', '52:54:00:00:00:b2'], ['192.168.0.230', '52:54:00:00:00:e7']])
    expect(unreadable).toEqual([
      {line: 36, reason: 'hardware ethernet 52:54:00:00:0 is no MAC address'},
      {line: 49, reason: 'the entry is cut short: no closing brace'},
    ])
  })

  it('ISC: a bad address or time, a lease line that is no statement; "ends never" and a lease without hardware are fine', () => {
    const text = [
      'lease 192.168.0.300 {', '  binding state active;', '  hardware ethernet 52:54:00:00:00:01;', '}',
      'lease 192.168.0.201 {', '  ends 5 2026/13/45;', '  hardware ethernet 52:54:00:00:00:02;', '}',
      'lease 192.168.0.202',
      'lease 192.168.0.203 {', '  ends never;', '  binding state active;', '  hardware ethernet 52:54:00:00:00:03;', '}',
      'lease 192.168.0.204 {', '  binding state abandoned;', '}',
    ].join('\n')
    const {leases, unreadable} = parseIscLeases(text, DURING)
    expect(leases).toEqual([{ip: '192.168.0.203', mac: '52:54:00:00:00:03', active: true}])
    expect(unreadable).toEqual([
      {line: 1, reason: '192.168.0.300 is no IPv4 address'},
      {line: 6, reason: 'ends 5 2026/13/45 is no time'},
      {line: 9, reason: '"lease 192.168.0.202" is no lease statement'},
    ])
  })

  it('Kea memfile: rows cut short or with a bad MAC or address, in the current file and the .1 its cleanup left', async () => {
    const current = parseKeaLeases(await fixture('kea-leases4-damaged.csv'), KEA_NOW)
    expect(current.leases.map((l) => l.ip)).toEqual(['192.168.0.201', '192.168.0.230'])
    expect(current.unreadable).toEqual([
      {line: 4, reason: 'hwaddr 52:54:00:zz:00:01 is no hardware address'},
      {line: 5, reason: '5 of the header\'s 12 fields: the row is cut short'},
    ])
    expect(parseKeaLeases(await fixture('kea-leases4-damaged.csv.1'), KEA_NOW).unreadable).toEqual([{line: 3, reason: 'address 192.168.0.2333 is no IPv4 address'}])
    expect(parseKeaLeases('192.168.0.201,52:54:00:00:00:a1,,600,1795797351,1,0,0,,0,,0\n', KEA_NOW).unreadable)
      .toEqual([{line: 1, reason: 'no header naming address, hwaddr and expire: not a Kea lease file'}])
    // A client known by its client id alone has no MAC: not an error.
    expect(parseKeaLeases('address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context,pool_id\n192.168.0.205,,01:02:03,600,1795797351,1,0,0,,0,,0\n', KEA_NOW))
      .toEqual({leases: [], unreadable: []})
  })

  it('dnsmasq: a bad expiry and a line cut short are named; its DHCPv6 section is not an error', async () => {
    const {leases, unreadable} = parseDnsmasqLeases(await fixture('dnsmasq-damaged.leases'), KEA_NOW)
    expect(leases.map((l) => l.ip)).toEqual(['192.168.0.201', '192.168.0.202', '192.168.0.230'])
    expect(unreadable).toEqual([{line: 4, reason: 'expiry 17957x3900 is no time'}, {line: 5, reason: '2 of 5 fields: the line is cut short'}])
    const v6 = '1795793751 52:54:00:00:00:b2 192.168.0.201 * *\nduid 00:01:00:01:2c:4e:6f:5c:52:54:00:00:00:01\n1795793751 1234567 fd00::5 node01 00:01:00:01:2c\n'
    expect(parseDnsmasqLeases(v6, KEA_NOW).unreadable).toEqual([])
  })
})

describe('status and doctor on a damaged lease file', () => {
  const tmp = freshRootPerTest()
  const put = async (hostPath: string, text: string) => {
    await fs.mkdir(path.dirname(path.join(tmp.dir, hostPath)), {recursive: true})
    await fs.writeFile(path.join(tmp.dir, hostPath), text)
  }
  const ctx = () => makeContext({root: tmp.dir, log: () => {}})
  const seed = async (extra = '') => seedSite(tmp.dir, {nodes: true, site: (await fs.readFile(path.join(FIXTURES, 'seed-site.yaml'), 'utf8')) + extra})

  it('ISC: status says how many entries could not be read and where, in words and in --json; doctor warns with the same', async () => {
    await seed()
    await put('var/lib/dhcp/dhcpd.leases', await fixture('dhcpd-damaged.leases'))
    const status = await readStatus(ctx())
    expect(status.unreadableLeases).toEqual([
      {file: '/var/lib/dhcp/dhcpd.leases', line: 36, reason: 'hardware ethernet 52:54:00:00:0 is no MAC address'},
      {file: '/var/lib/dhcp/dhcpd.leases', line: 49, reason: 'the entry is cut short: no closing brace'},
    ])
    expect(statusReport(status)).toContain('leases: 2 entries could not be read, so their machines may show without a lease: /var/lib/dhcp/dhcpd.leases line 36 (hardware ethernet 52:54:00:00:0 is no MAC address), line 49 (the entry is cut short: no closing brace)\n')
    const site = parseSite(await fs.readFile(path.join(tmp.dir, 'etc/pxeroot/pxeroot.yaml'), 'utf8'))
    const [check] = await leaseFiles({ctx: ctx(), site}, DURING)
    expect(check).toMatchObject({check: 'leases', status: 'warn'})
    expect(check.message).toBe('2 of the entries in /var/lib/dhcp/dhcpd.leases could not be read: /var/lib/dhcp/dhcpd.leases line 36 (hardware ethernet 52:54:00:00:0 is no MAC address), line 49 (the entry is cut short: no closing brace)')

    // The same file whole again: nothing to say.
    await put('var/lib/dhcp/dhcpd.leases', await fixture('dhcpd.leases'))
    expect((await readStatus(ctx())).unreadableLeases).toEqual([])
    expect(statusReport(await readStatus(ctx()))).not.toContain('could not be read')
    expect((await leaseFiles({ctx: ctx(), site}, DURING))[0]).toMatchObject({status: 'ok', message: '2 lease(s) read from /var/lib/dhcp/dhcpd.leases'})
  })

  it('Kea: each of its files is named with its own lines', async () => {
    await seed('backends: {dhcp: kea}\ndhcp: {interface: eth0}\n')
    await put('var/lib/kea/kea-leases4.csv', await fixture('kea-leases4-damaged.csv'))
    await put('var/lib/kea/kea-leases4.csv.1', await fixture('kea-leases4-damaged.csv.1'))
    const status = await readStatus(ctx())
    expect(status.unreadableLeases.map((u) => `${u.file}:${u.line}`)).toEqual(['/var/lib/kea/kea-leases4.csv.1:3', '/var/lib/kea/kea-leases4.csv:4', '/var/lib/kea/kea-leases4.csv:5'])
    expect(statusReport(status)).toMatch(/^leases: 3 entries could not be read, .*: \/var\/lib\/kea\/kea-leases4\.csv\.1 line 3 \(address 192\.168\.0\.2333 is no IPv4 address\); \/var\/lib\/kea\/kea-leases4\.csv line 4 /m)
  })

  it('dnsmasq: named too; doctor has nothing to read in proxy mode and says why', async () => {
    await seed('backends: {dhcp: dnsmasq}\ndhcp: {interface: eth0}\n')
    await put('var/lib/misc/pxeroot-dnsmasq.leases', await fixture('dnsmasq-damaged.leases'))
    expect((await readStatus(ctx())).unreadableLeases.map((u) => u.line)).toEqual([4, 5])
    const proxy = parseSite('server: 192.168.0.10\nsubnet: 192.168.0.0/24\nnodes: {range: 192.168.0.200-192.168.0.210}\nbackends: {dhcp: dnsmasq}\ndhcp: {interface: eth0, mode: proxy}\n')
    expect(await leaseFiles({ctx: ctx(), site: proxy})).toEqual([{check: 'leases', status: 'skip', message: 'dhcp.mode: proxy: the network\'s own DHCP server holds the leases'}])
  })
})
