/**
 * Several boot servers, one site: the `servers` section and its refusals, each server's role,
 * which server a run renders for, the nodes' `server` and what each server's boot files say.
 */
import {promises as fs} from 'node:fs'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {bootNodesFor} from '../../src/boot/nodes.js'
import {chooseServer, forServer, noFailoverNotice, serverRole} from '../../src/config/servers.js'
import {parseSite} from '../../src/config/site-file.js'
import {siteFields} from '../../src/config/site.js'
import {UserError} from '../../src/errors.js'
import {assertValidInventory, nextFreeIp, parseInventory} from '../../src/inventory/inventory.js'
import {renderSiteFile} from '../../src/render/site-file.js'
import {parseServersFlag} from '../../src/services/init.js'
import {seedServersSiteText, seedSiteText} from '../support/seed-model.js'
import {FIXTURES} from '../support/tmp-root.js'

const KEA = 'backends: {dhcp: kea}\ndhcp: {interface: eth0}\n'
const problem = (text: string) => {
  try {
    parseSite(text)
    return 'accepted'
  } catch (error) {
    expect(error).toBeInstanceOf(UserError)
    return (error as Error).message
  }
}

describe('the servers section', () => {
  it('a site with one server is as before: no servers, the server its own', async () => {
    const site = parseSite(await seedSiteText())
    expect([site.server, site.servers, site.self]).toEqual(['192.168.0.10', [], undefined])
    expect(chooseServer(site, {isHost: true, addresses: () => []})).toBe(site)
  })

  it('round-trips through the file init writes, Kea\'s failover settings with it', async () => {
    const site = parseSite(await seedServersSiteText('backends: {dhcp: kea}\ndhcp: {interface: eth0, ha: {mode: load-balancing, port: 8002}}\n', '  - {name: boot1, address: 192.168.0.10, interface: br0}\n  - {name: boot2, address: 192.168.0.11, haAddress: 10.9.0.2}\n'))
    const back = parseSite(renderSiteFile(siteFields(site)))
    expect(siteFields(back)).toEqual(siteFields(site))
    expect(back.servers.map((s) => s.name)).toEqual(['boot1', 'boot2'])
    expect(back.dhcp.ha).toMatchObject({mode: 'load-balancing', port: 8002, heartbeatDelay: 1000, maxResponseDelay: 4000, maxUnackedClients: 0})
  })

  const refusals: [string, string, RegExp][] = [
    ['both server and servers', 'server: 192.168.0.10\n', /^[^;]*server: remove it: with servers, each server's address is its entry in servers/],
    ['a server twice by name', 'servers:\n  - {name: boot1, address: 192.168.0.10}\n  - {name: boot1, address: 192.168.0.11}\n', /servers: boot1 has the name of boot1; every server needs its own/],
    ['two servers at one address', 'servers:\n  - {name: boot1, address: 192.168.0.10}\n  - {name: boot2, address: 192.168.0.10}\n', /servers: boot2 has the address 192\.168\.0\.10 of boot1/],
    ['a server outside the subnet', 'servers:\n  - {name: boot1, address: 192.168.0.10}\n  - {name: boot2, address: 10.0.0.2}\n', /servers: boot2's address 10\.0\.0\.2 is outside subnet 192\.168\.0\.0\/24/],
    ['a server inside the node range', 'servers:\n  - {name: boot1, address: 192.168.0.10}\n  - {name: boot2, address: 192.168.0.205}\n', /nodes\.range: contains the server boot2 address 192\.168\.0\.205/],
    ['a name that is no hostname', 'servers:\n  - {name: Boot_1, address: 192.168.0.10}\n', /servers\.0\.name: must be a hostname label/],
    ['an unknown field', 'servers:\n  - {name: boot1, adress: 192.168.0.10}\n', /unknown field adress; did you mean address\?/],
  ]
  for (const [what, servers, message] of refusals) {
    it(`refuses ${what}, naming the field and the fix`, async () => {
      const text = what === 'both server and servers'
        ? await seedServersSiteText() + servers
        : (await seedSiteText()).replace('server: 192.168.0.10\n', servers)
      expect(problem(text)).toMatch(message)
    })
  }

  it('refuses neither server nor servers, and a heartbeat slower than the failover it feeds', async () => {
    expect(problem((await seedSiteText()).replace('server: 192.168.0.10\n', ''))).toMatch(/server: is required: this server's address on the boot network \(or servers:/)
    expect(problem(await seedServersSiteText(`backends: {dhcp: kea}\ndhcp: {interface: eth0, ha: {heartbeatDelay: 5000, maxResponseDelay: 5000}}\n`)))
      .toMatch(/dhcp\.ha\.maxResponseDelay: 5000 ms must be longer than heartbeatDelay \(5000 ms\)/)
  })

  it('Kea and dnsmasq need each server\'s interface: its own or dhcp.interface', async () => {
    expect(problem(await seedServersSiteText('backends: {dhcp: kea}\n'))).toMatch(/dhcp\.interface: is required with backends\.dhcp: kea \(servers boot1, boot2 name none of their own\)/)
    expect(problem(await seedServersSiteText('backends: {dhcp: kea}\n', '  - {name: boot1, address: 192.168.0.10, interface: eth0}\n  - {name: boot2, address: 192.168.0.11, interface: ens3}\n'))).toBe('accepted')
  })

  it('init --servers reads NAME=ADDRESS pairs in order, and refuses anything else', () => {
    expect(parseServersFlag('boot1=10.0.0.11, boot2=10.0.0.12')).toEqual([{name: 'boot1', address: '10.0.0.11'}, {name: 'boot2', address: '10.0.0.12'}])
    expect(() => parseServersFlag('boot1:10.0.0.11')).toThrow(/--servers: "boot1:10\.0\.0\.11" is not NAME=ADDRESS/)
  })
})

describe('roles and the server a run is for', () => {
  it('Kea: primary and standby (secondary when load-balancing), backups after them; ISC and dnsmasq: the first alone, said plainly', async () => {
    const kea = parseSite(await seedServersSiteText(KEA, '  - {name: a, address: 192.168.0.10}\n  - {name: b, address: 192.168.0.11}\n  - {name: c, address: 192.168.0.12}\n'))
    expect(['a', 'b', 'c'].map((n) => serverRole(kea, n))).toEqual(['primary', 'standby', 'backup'])
    expect(serverRole({...kea, dhcp: {...kea.dhcp, ha: {...kea.dhcp.ha!, mode: 'load-balancing'}}}, 'b')).toBe('secondary')
    expect(noFailoverNotice(kea)).toBeUndefined()
    const isc = parseSite(await seedServersSiteText())
    expect(['boot1', 'boot2'].map((n) => serverRole(isc, n))).toEqual(['dhcp', 'none'])
    expect(noFailoverNotice(isc)).toMatch(/^backends\.dhcp isc gets no DHCP failover: only boot1 answers DHCP, and while it is down no node gets an address/)
  })

  it('the named server, else the one whose address this machine holds; refused when neither says', async () => {
    const site = parseSite(await seedServersSiteText())
    expect(chooseServer(site, {name: 'boot2', isHost: false})).toMatchObject({server: '192.168.0.11', self: 'boot2'})
    expect(chooseServer(site, {isHost: true, addresses: () => ['10.1.1.1', '192.168.0.11']})).toMatchObject({self: 'boot2'})
    expect(() => chooseServer(site, {name: 'boot3', isHost: false})).toThrow(/--server boot3: no such server; the site's servers are boot1 \(192\.168\.0\.10\), boot2 \(192\.168\.0\.11\)/)
    expect(() => chooseServer(site, {isHost: true, addresses: () => ['10.1.1.1']})).toThrow(/this machine holds none of their addresses; say which one this run is for/)
    expect(() => chooseServer(site, {isHost: false, addresses: () => ['192.168.0.11']})).toThrow(/--root is set, so this machine is none of them/)
    // The model a server renders from names its interface where it has its own.
    const own = parseSite(await seedServersSiteText(KEA, '  - {name: boot1, address: 192.168.0.10}\n  - {name: boot2, address: 192.168.0.11, interface: ens3}\n'))
    expect([forServer(own, 'boot1').dhcp.interface, forServer(own, 'boot2').dhcp.interface]).toEqual(['eth0', 'ens3'])
  })
})

describe('the nodes of a site with several servers', () => {
  const nodes = async () => (await fs.readFile(path.join(FIXTURES, 'seed-nodes.yaml'), 'utf8')).replace('    ip: 192.168.0.202\n', '    ip: 192.168.0.202\n    server: boot2\n')

  it('each node\'s root on its server (the first by default): nfsroot names it on every server, and only it exports the root', async () => {
    const site = parseSite(await seedServersSiteText())
    const inventory = parseInventory(await nodes())
    assertValidInventory(site, inventory)
    for (const self of ['boot1', 'boot2']) {
      const booted = bootNodesFor(forServer(site, self), inventory)
      expect(booted.map((n) => [n.name, n.server, /nfsroot=([\d.]+):/.exec(n.cmdline)?.[1], n.exportedHere])).toEqual([
        ['node01', 'boot1', '192.168.0.10', self === 'boot1'],
        ['node02', 'boot2', '192.168.0.11', self === 'boot2'],
        ['node03', 'boot1', '192.168.0.10', self === 'boot1'],
      ])
    }
  })

  it('refuses a server the site does not have, a server on a site with one, and a node at a server\'s address', async () => {
    const site = parseSite(await seedServersSiteText())
    const one = parseSite(await seedSiteText())
    const text = await nodes()
    expect(() => assertValidInventory(site, parseInventory(text.replace('server: boot2', 'server: boot9')))).toThrow(/node "node02": server boot9 is none of the site's servers \(boot1, boot2\); name the one that holds its root \(pxeroot nodes set node02 --server NAME\)/)
    expect(() => assertValidInventory(one, parseInventory(text))).toThrow(/node "node02": server boot2: the site has one server \(server: 192\.168\.0\.10\); remove server from the node/)
    expect(() => assertValidInventory(site, parseInventory(text.replace('ip: 192.168.0.201', 'ip: 192.168.0.11')))).toThrow(/node "node01": ip 192\.168\.0\.11 is the server boot2's address/)
  })

  it('never hands a new node a server\'s address', async () => {
    const text = (await seedSiteText()).replace('server: 192.168.0.10\n', 'servers:\n  - {name: boot1, address: 192.168.0.9}\n  - {name: boot2, address: 192.168.0.10}\n').replace('range: 192.168.0.200-192.168.0.210', 'range: 192.168.0.11-192.168.0.20')
    const site = parseSite(text)
    expect(nextFreeIp(site, parseInventory(''))).toBe('192.168.0.11')
    expect(nextFreeIp({...site, servers: [...site.servers, {name: 'boot3', address: '192.168.0.11'}]}, parseInventory(''))).toBe('192.168.0.12')
  })
})
