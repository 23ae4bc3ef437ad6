/**
 * The lab's stand-in for the network's own DHCP server in proxy mode: what README asks of a
 * site's server (addresses only, each node's address reserved for its MAC), nothing that could
 * tell a node where to boot from, and dhcpd accepts it.
 */
import {describe, expect, it} from 'vitest'

import {parseSite} from '../../src/config/site-file.js'
import {standInAddress, standInConfig} from '../../src/lab/router.js'

const SITE = 'server: 10.77.0.1\nsubnet: 10.77.0.0/24\nnodes:\n  range: 10.77.0.100-10.77.0.150\nbackends: {dhcp: dnsmasq}\ndhcp: {mode: proxy, interface: eth0}\n'
const NODES = [{name: 'node01', mac: '52:54:00:aa:00:01', ip: '10.77.0.100'}]

describe('the stand-in for the network\'s own DHCP server', () => {
  it('sits at the site\'s router when that is another machine, else at the subnet\'s highest free address', () => {
    expect(standInAddress(parseSite(`${SITE}router: 10.77.0.254\n`))).toBe('10.77.0.254')
    expect(standInAddress(parseSite(SITE))).toBe('10.77.0.254')
    // The router is this server, or inside a range pxeroot hands out: not an address to take.
    expect(standInAddress(parseSite(`${SITE}router: 10.77.0.1\n`))).toBe('10.77.0.254')
    expect(standInAddress(parseSite(SITE.replace('10.77.0.100-10.77.0.150', '10.77.0.200-10.77.0.254')))).toBe('10.77.0.199')
  })

  it('hands out addresses only: a reservation per node, the router and resolvers; no next-server, boot file or PXE options', () => {
    const conf = standInConfig(parseSite(`${SITE}dns: [10.77.0.1]\ndomain: lab.test\n`), '10.77.0.254', NODES)
    expect(conf).toContain('host node01 { hardware ethernet 52:54:00:aa:00:01; fixed-address 10.77.0.100; }')
    expect(conf).toContain('  option routers 10.77.0.254;')
    expect(conf).toContain('  option domain-name-servers 10.77.0.1;')
    const settings = conf.split('\n').filter((l) => !l.startsWith('#')).join('\n')
    expect(settings).not.toMatch(/next-server|filename|vendor-class|vendor-encapsulated|option 43|option 60|range/)
  })

  it('with --network-next-server adds next-server = the site\'s server, and nothing else', () => {
    const site = parseSite(SITE)
    const plain = standInConfig(site, '10.77.0.254', NODES).split('\n').filter((l) => !l.startsWith('#'))
    const withNext = standInConfig(site, '10.77.0.254', NODES, '10.77.0.1').split('\n').filter((l) => !l.startsWith('#'))
    expect(withNext.filter((l) => !plain.includes(l))).toEqual(['  next-server 10.77.0.1;'])
  })
})
