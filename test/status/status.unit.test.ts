/**
 * `pxeroot status` from what the servers record: lease files as the real daemons wrote them
 * (fixtures/leases/ come from VM boots against ISC dhcpd 4.4 and dnsmasq 2.90), socket tables,
 * logs. The lab proves the same against its own running daemons (test/lab).
 */
import {promises as fs} from 'node:fs'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {parseDnsmasqLeases, parseIscLeases, parseKeaLeases} from '../../src/backends/dhcp/leases.js'
import {bootNodesFor} from '../../src/boot/nodes.js'
import {parseSite} from '../../src/config/site-file.js'
import {parseInventory} from '../../src/inventory/inventory.js'
import {lastFetches} from '../../src/status/fetches.js'
import {nfsClientsIn} from '../../src/status/nfs-clients.js'
import {nodeStatuses, summarize, summaryLine} from '../../src/status/node-status.js'
import {statusReport} from '../../src/commands/status.js'
import {readStatus} from '../../src/services/status.js'
import {makeContext} from '../../src/system/context.js'
import {FIXTURES, freshRootPerTest, seedSite} from '../support/tmp-root.js'

const DURING = new Date('2026-11-27T15:20:00Z')
const AFTER = new Date('2026-11-27T16:00:00Z')

describe('lease databases', () => {
  it('reads ISC dhcpd.leases: address, MAC, end, and whether it is still active', async () => {
    const text = await fs.readFile(path.join(FIXTURES, 'leases/dhcpd.leases'), 'utf8')
    expect(parseIscLeases(text, DURING)).toEqual({leases: [
      {ip: '192.168.0.201', mac: '52:54:00:00:00:a1', starts: new Date('2026-11-27T15:17:07Z'), ends: new Date('2026-11-27T15:27:07Z'), active: true},
      {ip: '192.168.0.202', mac: '52:54:00:00:00:b2', starts: new Date('2026-11-27T15:17:57Z'), ends: new Date('2026-11-27T15:27:57Z'), active: true},
    ], unreadable: []})
    expect(parseIscLeases(text, AFTER).leases.map((l) => l.active)).toEqual([false, false])
    // The file is a log: a later entry for the same address wins (here: the lease released).
    const released = `${text}\nlease 192.168.0.201 {\n  starts 5 2026/11/27 15:18:00;\n  ends 5 2026/11/27 15:18:00;\n  binding state free;\n  hardware ethernet 52:54:00:00:00:a1;\n}\n`
    expect(parseIscLeases(released, DURING).leases.find((l) => l.ip === '192.168.0.201')?.active).toBe(false)
  })

  it('reads dnsmasq\'s lease file and Kea\'s memfile CSV', async () => {
    const dnsmasq = await fs.readFile(path.join(FIXTURES, 'leases/dnsmasq.leases'), 'utf8')
    expect(parseDnsmasqLeases(dnsmasq, new Date(1_795_793_000_000))).toEqual({leases: [
      {ip: '192.168.0.201', mac: '52:54:00:00:00:b2', ends: new Date(1_795_793_751_000), active: true},
      {ip: '192.168.0.202', mac: '52:54:00:00:00:a1', ends: new Date(1_795_793_814_000), active: true},
    ], unreadable: []})
    const kea = 'address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context\n'
      + '192.168.0.201,52:54:00:00:00:a1,,3600,1795797351,1,0,0,node01,0,\n'
      + '192.168.0.202,52:54:00:00:00:b2,,3600,1795797351,1,0,0,,2,\n'
    expect(parseKeaLeases(kea, new Date(1_795_793_000_000))).toEqual({leases: [
      {ip: '192.168.0.201', mac: '52:54:00:00:00:a1', starts: new Date(1_795_793_751_000), ends: new Date(1_795_797_351_000), active: true},
      {ip: '192.168.0.202', mac: '52:54:00:00:00:b2', starts: new Date(1_795_793_751_000), ends: new Date(1_795_797_351_000), active: false},
    ], unreadable: []})
  })
})

describe('NFS clients and boot-file fetches', () => {
  it('finds established connections to port 2049, IPv4 and IPv4-mapped IPv6, and nothing else', () => {
    const tcp = [
      '  sl  local_address rem_address   st tx_queue rx_queue',
      '   0: 0A00A8C0:0801 C900A8C0:03FF 01 00000000:00000000', // 192.168.0.10:2049 ← 192.168.0.201, established
      '   1: 0A00A8C0:0801 CA00A8C0:03FE 06 00000000:00000000', // TIME_WAIT: not mounted
      '   2: 0A00A8C0:0016 CB00A8C0:D431 01 00000000:00000000', // ssh, not NFS
    ].join('\n')
    const tcp6 = [
      '  sl  local_address                         remote_address                        st',
      '   0: 0000000000000000FFFF00000A00A8C0:0801 0000000000000000FFFF0000CC00A8C0:0321 01',
    ].join('\n')
    expect([...nfsClientsIn([tcp, tcp6])].sort()).toEqual(['192.168.0.201', '192.168.0.204'])
  })

  it('reads the last fetch per address from tftpd\'s syslog lines and a web access log', () => {
    const syslog = 'Nov 27 15:17:07 server in.tftpd[812]: RRQ from 192.168.0.201 filename pxelinux.0\n'
      + 'Nov 27 15:17:09 server in.tftpd[813]: RRQ from 192.168.0.201 filename pxeroot/lab/1/vmlinuz\n'
    const access = '192.168.0.202 10.0.0.1 - [27/Nov/2026:15:18:00 +0000] "GET /pxeroot/lab/1/initrd.img HTTP/1.1" 200 31457280 "-" "iPXE/1.0.0"\n'
    const fetches = lastFetches([syslog, access], DURING)
    expect(fetches.get('192.168.0.201')?.file).toBe('pxeroot/lab/1/vmlinuz')
    expect(fetches.get('192.168.0.202')).toEqual({file: 'pxeroot/lab/1/initrd.img', at: new Date('2026-11-27T15:18:00Z')})
  })
})

describe('each node\'s state, in words an operator acts on', () => {
  const site = parseSite('server: 192.168.0.10\nsubnet: 192.168.0.0/24\nnodes: {range: 192.168.0.200-192.168.0.210}\n')
  const inventory = parseInventory([
    'nodes:',
    '  - {name: node01, ip: 192.168.0.201}',
    '  - {name: node02, ip: 192.168.0.202}',
    '  - {name: node03, ip: 192.168.0.203, mac: "52:54:00:00:00:c3"}',
    '  - {name: node04, ip: 192.168.0.204, mac: "52:54:00:00:00:c4"}',
    '  - {name: node05, ip: 192.168.0.205}',
    '  - {name: node06, ip: 192.168.0.206}',
  ].join('\n'))
  const nodes = bootNodesFor(site, inventory)
  const lease = (ip: string, mac: string) => ({ip, mac, active: true})

  it('tells up, leased-but-not-mounted and down apart, and flags what is wrong', () => {
    const statuses = nodeStatuses(nodes, {
      leases: [
        lease('192.168.0.201', '52:54:00:00:00:a1'), // node01: up
        lease('192.168.0.202', '52:54:00:00:00:a2'), // node02: leased, root not mounted
        lease('192.168.0.203', '52:54:00:00:00:ff'), // node03: its address held by a foreign MAC
        lease('192.168.0.205', '52:54:00:00:00:c4'), // node05: held by node04's MAC
      ],
      nfsClients: new Set(['192.168.0.201', '192.168.0.206']),
      revisions: new Map([['node01', {image: 'lab@1', behind: 2}]]),
    })
    const by = Object.fromEntries(statuses.map((s) => [s.name, s]))
    expect(by.node01).toMatchObject({state: 'up', rootMounted: true, lease: {mac: '52:54:00:00:00:a1'}, image: 'lab@1', behind: 2, problems: []})
    expect(by.node02).toMatchObject({state: 'leased', rootMounted: false, problems: []})
    expect(by.node03.state).toBe('down')
    expect(by.node03.problems).toEqual(['192.168.0.203 is leased to 52:54:00:00:00:ff, not to node03\'s 52:54:00:00:00:c3: another machine has its address'])
    expect(by.node04.problems).toEqual(['no lease for 52:54:00:00:00:c4: powered off, or its DHCP requests do not reach this server'])
    expect(by.node05.problems).toEqual(['192.168.0.205 is leased to 52:54:00:00:00:c4, which is node04\'s MAC: that machine boots node05\'s root'])
    expect(by.node06).toMatchObject({state: 'mounted', problems: ['root mounted by 192.168.0.206 but no active lease: the lease expired, or another DHCP server answered']})
    expect(summaryLine(summarize(statuses))).toBe('1 up, 2 leased but no root mounted, 1 root mounted without a lease, 2 down (4 with problems)')
  })

  it('with ISC dhcpd, which records no lease for a MAC reservation, counts a MAC-bound node up by its mounted root', () => {
    const statuses = nodeStatuses(nodes, {leases: [lease('192.168.0.201', '52:54:00:00:00:a1')], reservationsRecorded: false, nfsClients: new Set(['192.168.0.201', '192.168.0.203']), revisions: new Map()})
    const by = Object.fromEntries(statuses.map((s) => [s.name, s]))
    expect(by.node03).toMatchObject({state: 'up', lease: null, leaseRecorded: false, problems: []})
    expect(by.node04).toMatchObject({state: 'down', leaseRecorded: false, problems: []})
    // Address-bound nodes still need their lease.
    expect(by.node01).toMatchObject({state: 'up', leaseRecorded: true})
    expect(by.node02).toMatchObject({state: 'down', leaseRecorded: true})
  })

  it('a node that maps its own RBD root is up by its lease and its clone\'s watcher: an NFS connection from its address does not count', () => {
    const rbd = {kind: 'rbd', monitors: ['10.0.0.5:6789'], pool: 'rbd', image: 'root', secret: 'S'} as const
    const roots = new Map(['node01', 'node02', 'node05', 'node06'].map((n) => [n, {...rbd, namespace: n, user: n}]))
    const statuses = nodeStatuses(bootNodesFor(site, inventory, undefined, roots), {
      leases: [lease('192.168.0.201', '52:54:00:00:00:a1'), lease('192.168.0.202', '52:54:00:00:00:a2'), lease('192.168.0.205', '52:54:00:00:00:a5')],
      nfsClients: new Set(['192.168.0.202']),
      mappedRoots: new Set(['node01', 'node06']),
      revisions: new Map(),
    })
    const by = Object.fromEntries(statuses.map((s) => [s.name, s]))
    expect(by.node01).toMatchObject({state: 'up', rootMounted: true, problems: []})
    expect(by.node02).toMatchObject({state: 'leased', rootMounted: false})
    expect(by.node05).toMatchObject({state: 'leased', rootMounted: false})
    expect(by.node06).toMatchObject({state: 'mounted', problems: ['node06\'s RBD root is mapped (a client of the cluster holds it) but 192.168.0.206 has no active lease: the lease expired, or another DHCP server answered']})
  })

  it('without a lease database (proxy mode) counts a node up when its root is mounted, and flags no missing lease', () => {
    const statuses = nodeStatuses(nodes, {leases: null, nfsClients: new Set(['192.168.0.201', '192.168.0.203']), revisions: new Map()})
    expect(statuses.map((s) => s.state)).toEqual(['up', 'down', 'up', 'down', 'down', 'down'])
    expect(statuses.flatMap((s) => s.problems)).toEqual([])
  })
})

describe('pxeroot status on a server', () => {
  const tmp = freshRootPerTest()

  it('reads the active DHCP server\'s lease file under --root; a node that never booted is down', async () => {
    await seedSite(tmp.dir, {nodes: true})
    const ctx = makeContext({root: tmp.dir, log: () => {}})
    const down = await readStatus(ctx)
    expect(down.nodes.every((n) => n.state === 'down')).toBe(true)
    const soon = new Date(Date.now() + 3_600_000)
    const stamp = `${soon.getUTCFullYear()}/${String(soon.getUTCMonth() + 1).padStart(2, '0')}/${String(soon.getUTCDate()).padStart(2, '0')} ${soon.toISOString().slice(11, 19)}`
    await fs.mkdir(path.join(tmp.dir, 'var/lib/dhcp'), {recursive: true})
    await fs.writeFile(path.join(tmp.dir, 'var/lib/dhcp/dhcpd.leases'), `lease 192.168.0.201 {\n  ends 5 ${stamp};\n  binding state active;\n  hardware ethernet 52:54:00:00:00:01;\n}\n`)
    const leased = await readStatus(ctx, ['node01'])
    expect(leased.nodes).toHaveLength(1)
    expect(leased.nodes[0]).toMatchObject({name: 'node01', state: 'leased', lease: {mac: '52:54:00:00:00:01'}, booted: null})
    // What the node wrote into its own root once up (the image's boot report).
    await fs.mkdir(path.join(tmp.dir, 'srv/nodes/node01/var/lib/pxeroot'), {recursive: true})
    await fs.writeFile(path.join(tmp.dir, 'srv/nodes/node01/var/lib/pxeroot/booted'), 'revision=debian-bookworm@2\nboot_id=0f5c7a3e-6d0b-4a9e-9d1c-4c2f3b1a0e9d\nbooted_at=2026-11-27T15:18:00Z\n')
    expect((await readStatus(ctx, ['node01'])).nodes[0].booted).toEqual({revision: 'debian-bookworm@2', bootId: '0f5c7a3e-6d0b-4a9e-9d1c-4c2f3b1a0e9d', at: '2026-11-27T15:18:00Z'})
    await expect(readStatus(ctx, ['node99'])).rejects.toThrow(/node99 is not in the inventory/)
  })

  const seedWith = async (extra: string) => seedSite(tmp.dir, {nodes: true, site: (await fs.readFile(path.join(FIXTURES, 'seed-site.yaml'), 'utf8')) + extra})
  const put = async (hostPath: string, text: string) => {
    await fs.mkdir(path.dirname(path.join(tmp.dir, hostPath)), {recursive: true})
    await fs.writeFile(path.join(tmp.dir, hostPath), text)
  }
  const inAnHour = () => Math.floor(Date.now() / 1000) + 3600

  it('with Kea, reads the memfile and the files its lease cleanup leaves beside it, the newest entry winning', async () => {
    await seedWith('backends: {dhcp: kea}\ndhcp: {interface: eth0}\n')
    const header = 'address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context,pool_id\n'
    // node01's lease was compacted into .2 and not renewed since; node02's was released after.
    await put('var/lib/kea/kea-leases4.csv.2', `${header}192.168.0.201,52:54:00:00:00:01,,86400,${inAnHour()},1,0,0,,0,,0\n192.168.0.202,52:54:00:00:00:02,,86400,${inAnHour()},1,0,0,,0,,0\n`)
    await put('var/lib/kea/kea-leases4.csv', `${header}192.168.0.202,52:54:00:00:00:02,,0,${inAnHour()},1,0,0,,0,,0\n192.168.0.202,52:54:00:00:00:02,,86400,${inAnHour()},1,0,0,,2,,0\n`)
    const status = await readStatus(makeContext({root: tmp.dir, log: () => {}}), ['node01', 'node02'])
    expect(status.sources.leases).toEqual(['/var/lib/kea/kea-leases4.csv.2', '/var/lib/kea/kea-leases4.csv.1', '/var/lib/kea/kea-leases4.csv'])
    expect(status.nodes.map((n) => [n.name, n.state, n.lease?.mac ?? null])).toEqual([['node01', 'leased', '52:54:00:00:00:01'], ['node02', 'down', null]])
  })

  it('with dnsmasq, reads its lease file; in proxy mode it reads none and says who holds the leases', async () => {
    await seedWith('backends: {dhcp: dnsmasq}\ndhcp: {interface: eth0}\n')
    await put('var/lib/misc/pxeroot-dnsmasq.leases', `${inAnHour()} 52:54:00:00:00:01 192.168.0.201 node01 *\n`)
    const full = await readStatus(makeContext({root: tmp.dir, log: () => {}}), ['node01'])
    expect(full.nodes[0]).toMatchObject({state: 'leased', lease: {mac: '52:54:00:00:00:01'}})

    await seedWith('backends: {dhcp: dnsmasq}\ndhcp: {interface: eth0, mode: proxy}\n'.replace('range: 192.168.0.200-192.168.0.210', ''))
    const proxy = await readStatus(makeContext({root: tmp.dir, log: () => {}}))
    expect(proxy.sources.leases).toBeNull()
    expect(proxy.nodes.every((n) => n.lease === null && n.state === 'down' && n.problems.length === 0)).toBe(true)
    expect(statusReport(proxy)).toMatch(/^leases: the network's own DHCP server holds them \(dhcp.mode: proxy\)/m)
  })
})
