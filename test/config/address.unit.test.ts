/**
 * Addresses are read without ipaddr.js where they are four decimal parts (issue 20: its parser
 * was ~8 ms of every `nodes list` of 1,000 nodes); what it accepts and the numbers it gives must
 * stay ipaddr.js's.
 */
import ipaddr from 'ipaddr.js'
import {expect, it} from 'vitest'

import {ipToNumber, isIPv4} from '../../src/config/address.js'

it('isIPv4 and ipToNumber say what ipaddr.js says', () => {
  const texts = ['0.0.0.0', '255.255.255.255', '10.20.1.0', '192.168.0.201', '256.0.0.1', '1.2.3.256', '01.2.3.4', '1.2.3.04', '1.2.3', '1.2.3.4.5', '1000.0.0.1',
    '0x0a.0.0.1', '10.0.0.1 ', ' 10.0.0.1', '10.0.0.-1', '1e1.0.0.1', '١.2.3.4', '', 'a.b.c.d', '10..0.1', '10.0.0.1/24']
  let seed = 7
  for (let i = 0; i < 500; i++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff
    texts.push([24, 16, 8, 0].map((shift) => (seed >> shift) % 300).join('.'))
  }
  for (const text of texts) {
    expect(isIPv4(text), text).toBe(ipaddr.IPv4.isValidFourPartDecimal(text))
    if (ipaddr.IPv4.isValid(text)) expect(ipToNumber(text), text).toBe(ipaddr.IPv4.parse(text).toByteArray().reduce((n, b) => n * 256 + b, 0))
  }
})
