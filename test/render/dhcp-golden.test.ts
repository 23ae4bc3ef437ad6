import {describe, expect, it} from 'vitest'

import {checkDnsmasq} from '../../src/backends/dhcp/dnsmasq.js'
import {checkKea} from '../../src/backends/dhcp/kea.js'
import {renderDnsmasqHosts, renderDnsmasqMain, renderDnsmasqUnit} from '../../src/render/dhcp/dnsmasq.js'
import {parseKeaConfig, renderKeaConfig, renderKeaDropIn} from '../../src/render/dhcp/kea.js'
import {hostFiles} from '../../src/system/files.js'
import {execaRunner} from '../../src/system/runner.js'
import {expectGolden} from '../support/golden-file.js'
import {DNSMASQ_SITE, KEA_SITE, PROXY_SITE, seedModel, seedNodesAllByMac} from '../support/seed-model.js'

const checker = {runner: execaRunner(), files: hostFiles, signal: new AbortController().signal}
const HOSTS = '/etc/pxeroot/dnsmasq-hosts'

describe('Kea on the seed network, checked by kea-dhcp4 -t', () => {
  it('one subnet, pools without the MAC-bound address, a reservation, leases keyed on the MAC, boot file by option 93', async () => {
    const text = renderKeaConfig(await seedModel(KEA_SITE))
    const {Dhcp4: kea} = parseKeaConfig(text)
    const [subnet] = kea.subnet4 as {pools: {pool: string}[], reservations: object[], 'next-server': string}[]
    expect(subnet.pools).toEqual([{pool: '192.168.0.200 - 192.168.0.202'}, {pool: '192.168.0.204 - 192.168.0.210'}])
    expect(subnet.reservations).toEqual([{'hw-address': '52:54:00:ab:cd:ef', 'ip-address': '192.168.0.203', hostname: 'node03'}])
    expect(subnet['next-server']).toBe('192.168.0.10')
    expect(kea['match-client-id']).toBe(false)
    expect(kea['client-classes']).toEqual([
      {name: 'pxeroot-uefi', test: '(option[93].hex == 0x0007 or option[93].hex == 0x0009)', 'boot-file-name': 'bootx64.efi'},
      {name: 'pxeroot-bios', test: 'not (option[93].hex == 0x0007 or option[93].hex == 0x0009)', 'boot-file-name': 'pxelinux.0'},
    ])
    await expectGolden('kea-dhcp4.conf', text)
    await expectGolden('kea-dhcp4-server.pxeroot.conf', renderKeaDropIn('/etc/kea/pxeroot/kea-dhcp4.conf'))
    await checkKea(checker, text)
  })

  it('an iPXE client gets the iPXE file, whatever its architecture; the checker accepts the classes', async () => {
    const text = renderKeaConfig(await seedModel(KEA_SITE, undefined, {bios: 'pxelinux.0', uefi: 'bootx64.efi', ipxe: 'http://192.168.0.10/boot.ipxe'}))
    const classes = parseKeaConfig(text).Dhcp4['client-classes'] as {name: string, test: string}[]
    expect(classes.map((c) => c.name)).toEqual(['pxeroot-ipxe', 'pxeroot-uefi', 'pxeroot-bios'])
    expect(classes[0].test).toBe('substring(option[77].hex,0,4) == \'iPXE\'')
    expect(classes.slice(1).every((c) => c.test.endsWith('and not member(\'pxeroot-ipxe\')'))).toBe(true)
    await checkKea(checker, text)
  })

  it('refuses a candidate with Kea\'s own reason, the live file\'s line and the setting behind it', async () => {
    const text = renderKeaConfig(await seedModel(KEA_SITE))
    await expect(checkKea(checker, text.replace('"routers", "data": "192.168.0.10"', '"routers", "data": "192.168.0.300"')))
      .rejects.toThrow(/^kea-dhcp4 rejects the generated configuration: .*Failed to convert string to address '192\.168\.0\.300'.* \(\/etc\/kea\/pxeroot\/kea-dhcp4\.conf line \d+, from router\)$/)
    const twice = text.replace(/( *)(\{"hw-address": "52:54:00:ab:cd:ef".*\})\n/, '$1$2,\n$1{"hw-address": "52:54:00:ab:cd:ef", "ip-address": "192.168.0.209", "hostname": "node09"}\n')
    await expect(checkKea(checker, twice)).rejects.toThrow(/already been added \(\/etc\/kea\/pxeroot\/kea-dhcp4\.conf line \d+, from node node09 with mac 52:54:00:ab:cd:ef\)/)
  })
})

describe('dnsmasq on the seed network, checked by dnsmasq --test', () => {
  it('full: DNS off, leases keyed on the MAC, the node range whole (fixed addresses live in the hosts file), boot file by option 93', async () => {
    const model = await seedModel(DNSMASQ_SITE)
    const main = renderDnsmasqMain(model, HOSTS)
    for (const line of ['port=0', 'no-resolv', 'no-hosts', 'interface=eth0', 'dhcp-ignore-clid', `dhcp-hostsfile=${HOSTS}`,
      'dhcp-range=192.168.0.200,192.168.0.210,255.255.255.0,86400', 'dhcp-range=192.168.0.0,static,255.255.255.0,86400',
      'dhcp-boot=tag:uefi,bootx64.efi,,192.168.0.10', 'dhcp-boot=tag:!uefi,pxelinux.0,,192.168.0.10']) expect(main.split('\n')).toContain(line)
    expect(main).not.toMatch(/^(dhcp-host|server|resolv-file)=/m)
    const hosts = renderDnsmasqHosts(model)
    expect(hosts.split('\n').filter((l) => l && !l.startsWith('#'))).toEqual(['52:54:00:ab:cd:ef,192.168.0.203,node03'])
    await expectGolden('dnsmasq.conf', main)
    await expectGolden('dnsmasq-hosts', hosts)
    await expectGolden('pxeroot-dnsmasq.service', renderDnsmasqUnit('/etc/pxeroot/dnsmasq.conf'))
    await checkDnsmasq(checker, main, hosts)
  })

  it('full without a router: an empty router option, or dnsmasq would name itself the gateway', async () => {
    const model = await seedModel(DNSMASQ_SITE)
    const main = renderDnsmasqMain({...model, site: {...model.site, router: undefined}}, HOSTS)
    expect(main.split('\n')).toContain('dhcp-option=option:router')
    await checkDnsmasq(checker, main, renderDnsmasqHosts(model))
  })

  it('proxy: no addresses, no options, PXE answers for the nodes\' MACs alone', async () => {
    const model = await seedModel(PROXY_SITE, await seedNodesAllByMac())
    const main = renderDnsmasqMain(model, HOSTS)
    expect(main).toContain('dhcp-range=192.168.0.0,proxy,255.255.255.0\n')
    expect(main).toContain('dhcp-ignore=tag:!node\n')
    expect(main).toContain('pxe-service=x86PC,"pxeroot (BIOS)",pxelinux.0,192.168.0.10\n')
    expect(main).toContain('pxe-service=X86-64_EFI,"pxeroot (UEFI)",bootx64.efi,192.168.0.10\n')
    expect(main).not.toMatch(/^(dhcp-option|dhcp-authoritative|dhcp-range=[^\n]*,static)/m)
    const hosts = renderDnsmasqHosts(model)
    expect(hosts.split('\n').filter((l) => l && !l.startsWith('#'))).toEqual(['52:54:00:00:00:01,set:node', '52:54:00:00:00:02,set:node', '52:54:00:ab:cd:ef,set:node'])
    await expectGolden('dnsmasq-proxy.conf', main)
    await expectGolden('dnsmasq-proxy-hosts', hosts)
    await checkDnsmasq(checker, main, hosts)
  })

  it('refuses a candidate with dnsmasq\'s own reason, naming the hosts file line and the node', async () => {
    const model = await seedModel(DNSMASQ_SITE)
    const main = renderDnsmasqMain(model, HOSTS)
    const hosts = `${renderDnsmasqHosts(model)}52:54:00:00:00:09,192.168.0.203,node09\n`
    await expect(checkDnsmasq(checker, main, hosts)).rejects.toThrow(
      'dnsmasq rejects the generated configuration: duplicate dhcp-host IP address 192.168.0.203 (/etc/pxeroot/dnsmasq-hosts line 3, from node node09 with mac 52:54:00:00:00:09)')
    await expect(checkDnsmasq(checker, main.replace('option:dns-server,8.8.8.8', 'option:dns-server,8.8.8.888'), renderDnsmasqHosts(model)))
      .rejects.toThrow(/: bad IPv4 address \(\/etc\/pxeroot\/dnsmasq\.conf line \d+, from dns\)$/)
  })
})
