import {describe, expect, it} from 'vitest'

import {parseSite} from '../../src/config/site-file.js'
import {dhcpChecks, dhcpServersVerdict, proxyUefiVerdict} from '../../src/doctor/dhcp.js'
import {testContext} from '../support/tmp-root.js'

const site = (extra: string) => parseSite(`server: 127.0.0.1\nsubnet: 127.0.0.0/8\nnodes: {range: 127.0.0.200-127.0.0.210}\n${extra}`)
const units = (enabled: string[], running: string[]) => ['isc-dhcp-server', 'kea-dhcp4-server', 'pxeroot-dnsmasq']
  .map((unit) => ({unit, enabled: enabled.includes(unit), running: running.includes(unit)}))

describe('doctor: two DHCP servers must never answer on one network', () => {
  it('names every other DHCP server to stop and the site\'s to enable', () => {
    const kea = site('backends: {dhcp: kea}\ndhcp: {interface: lo}\n')
    expect(dhcpServersVerdict(kea, units(['kea-dhcp4-server'], ['kea-dhcp4-server']))).toEqual({status: 'ok', message: 'kea-dhcp4-server runs, and no other DHCP server pxeroot knows is enabled or running'})
    expect(dhcpServersVerdict(kea, units(['isc-dhcp-server'], ['isc-dhcp-server', 'pxeroot-dnsmasq']))).toEqual({
      status: 'fail',
      message: 'stop isc-dhcp-server: two DHCP servers must never answer on one network; stop pxeroot-dnsmasq: two DHCP servers must never answer on one network; enable kea-dhcp4-server: it is the site\'s DHCP server (backends.dhcp: kea) and is not enabled or running',
      fix: 'systemctl disable --now isc-dhcp-server pxeroot-dnsmasq; then systemctl enable --now kea-dhcp4-server',
    })
    expect(dhcpServersVerdict(site(''), units(['isc-dhcp-server'], [])).message).toBe('enable isc-dhcp-server: it is the site\'s DHCP server (backends.dhcp: isc) and is not running')
  })

  it('checks the interface Kea or dnsmasq serves on this machine (real `ip`: lo holds 127.0.0.1)', async () => {
    const ctx = testContext('/')
    const good = await dhcpChecks(ctx, site('backends: {dhcp: dnsmasq}\ndhcp: {interface: lo}\n'))
    expect(good.find((c) => c.check === 'dhcp interface')?.verdict).toEqual({status: 'ok', message: 'lo holds 127.0.0.1'})
    const wrong = await dhcpChecks(ctx, site('backends: {dhcp: kea}\ndhcp: {interface: pxr-nosuch0}\n'))
    expect(wrong.find((c) => c.check === 'dhcp interface')?.verdict).toEqual({status: 'fail',
      message: 'dhcp.interface pxr-nosuch0 does not exist or has no IPv4 address on this machine; lo holds it',
      fix: 'set dhcp.interface: lo in /etc/pxeroot/pxeroot.yaml, then pxeroot apply'})
    expect((await dhcpChecks(ctx, site(''))).map((c) => c.check)).toEqual(['dhcp server'])
  })
})

describe('doctor: proxy mode with UEFI nodes', () => {
  const proxy = 'backends: {dhcp: dnsmasq}\ndhcp: {mode: proxy, interface: lo}\n'

  it('says what the network\'s own DHCP server must send (next-server = server), with each server\'s setting', () => {
    expect(proxyUefiVerdict(site(proxy))).toEqual({
      status: 'warn',
      message: 'proxy mode with UEFI: UEFI nodes boot only if the network\'s own DHCP server sends next-server 127.0.0.1 (GRUB takes its TFTP server from that server\'s answer, not from pxeroot\'s proxy); pxeroot cannot check that server',
      fix: 'on the network\'s DHCP server set next-server 127.0.0.1 for the nodes (ISC dhcpd: next-server 127.0.0.1; Kea: "next-server": "127.0.0.1"; dnsmasq: dhcp-boot=,,127.0.0.1), or set boot.firmware: [bios] if no node boots UEFI',
    })
  })

  it('says nothing in full mode or when no node can boot UEFI', () => {
    expect(proxyUefiVerdict(site('backends: {dhcp: dnsmasq}\ndhcp: {interface: lo}\n'))).toBeUndefined()
    expect(proxyUefiVerdict(site(`${proxy}boot: {firmware: [bios]}\n`))).toBeUndefined()
  })
})
