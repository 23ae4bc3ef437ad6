import {describe, expect, it} from 'vitest'

import {interfaceHolding} from '../../src/config/interfaces.js'
import {parseSite} from '../../src/config/site-file.js'
import {SiteSchema} from '../../src/config/site.js'
import {UserError} from '../../src/errors.js'
import {renderSiteFile} from '../../src/render/site-file.js'

const BASE = 'server: 192.168.0.10\nsubnet: 192.168.0.0/24\nnodes: {range: 192.168.0.200-192.168.0.210}\n'

describe('the DHCP settings of the site file', () => {
  it('round-trips backend, mode and interface through what init writes', () => {
    const site = SiteSchema.parse({server: '192.168.0.10', subnet: '192.168.0.0/24', nodes: {range: '192.168.0.200-192.168.0.210'},
      backends: {dhcp: 'dnsmasq'}, dhcp: {mode: 'proxy', interface: 'br-boot'}})
    const back = parseSite(renderSiteFile(site))
    expect([back.backends.dhcp, back.dhcp.mode, back.dhcp.interface]).toEqual(['dnsmasq', 'proxy', 'br-boot'])
    expect(parseSite(BASE).dhcp).toEqual({mode: 'full'})
  })

  const bad: [string, string, RegExp][] = [
    ['proxy mode with ISC dhcpd', `${BASE}dhcp: {mode: proxy}\n`, /dhcp\.mode: proxy needs backends\.dhcp: dnsmasq .*not isc; set backends\.dhcp: dnsmasq, or dhcp\.mode: full/],
    ['proxy mode with Kea', `${BASE}backends: {dhcp: kea}\ndhcp: {mode: proxy, interface: eth0}\n`, /dhcp\.mode: proxy needs backends\.dhcp: dnsmasq .*not kea/],
    ['Kea without an interface', `${BASE}backends: {dhcp: kea}\n`, /dhcp\.interface: is required with backends\.dhcp: kea; name the interface that holds 192\.168\.0\.10/],
    ['an interface name Linux cannot have', `${BASE}backends: {dhcp: dnsmasq}\ndhcp: {interface: "eth0 eth1"}\n`, /dhcp\.interface: must be a network interface name/],
    ['a pool in proxy mode', `${BASE}pool: 192.168.0.220-192.168.0.230\nbackends: {dhcp: dnsmasq}\ndhcp: {mode: proxy, interface: eth0}\n`, /pool: in proxy mode the network's own DHCP server hands out every address/],
    ['a lease time the DHCP servers would wrap', `${BASE}lease: {default: 5000000000, max: 6000000000}\n`, /lease\.default: must be at most 2147483647 seconds/],
    ['an unknown DHCP backend', `${BASE}backends: {dhcp: dhcpcd}\n`, /backends\.dhcp: /],
  ]
  for (const [what, text, message] of bad) {
    it(`refuses ${what}, naming the field and the fix`, () => {
      expect(() => parseSite(text)).toThrow(UserError)
      expect(() => parseSite(text)).toThrow(message)
    })
  }
})

describe('the interface that holds an address', () => {
  const shown = [
    '1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever',
    '2: eth0    inet 10.0.0.5/24 brd 10.0.0.255 scope global eth0\\       valid_lft forever preferred_lft forever',
    '5: br-boot    inet 192.168.0.10/24 brd 192.168.0.255 scope global br-boot\\       valid_lft forever preferred_lft forever',
  ].join('\n')
  it('is read from `ip -o -4 addr show`', () => {
    expect(interfaceHolding(shown, '192.168.0.10')).toBe('br-boot')
    expect(interfaceHolding(shown, '192.168.0.1')).toBeUndefined()
  })
})
