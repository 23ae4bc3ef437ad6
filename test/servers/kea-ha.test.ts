/**
 * Kea's HA hook as each server renders it, checked by the real `kea-dhcp4 -t` (in the private
 * namespaces apply checks every Kea file in): hot-standby by default, load-balancing with the
 * dynamic ranges split between the two, backups beyond them; reservations, pools and boot
 * classes the same on every server, next-server each server's own.
 */
import {describe, expect, it} from 'vitest'

import {checkKea} from '../../src/backends/dhcp/kea.js'
import {bootNodesFor} from '../../src/boot/nodes.js'
import {forServer} from '../../src/config/servers.js'
import {parseSite} from '../../src/config/site-file.js'
import {parseInventory} from '../../src/inventory/inventory.js'
import {halves, keaHooksDir} from '../../src/render/dhcp/kea-ha.js'
import {parseKeaConfig, renderKeaConfig} from '../../src/render/dhcp/kea.js'
import {hostFiles} from '../../src/system/files.js'
import {execaRunner} from '../../src/system/runner.js'
import {expectGolden} from '../support/golden-file.js'
import {seedServersSiteText} from '../support/seed-model.js'
import {FIXTURES} from '../support/tmp-root.js'
import {promises as fs} from 'node:fs'
import path from 'node:path'

const checker = {runner: execaRunner(), files: hostFiles, signal: new AbortController().signal}
const isRoot = process.getuid?.() === 0

interface Ha {'this-server-name': string, mode: string, peers: {name: string, url: string, role: string, 'auto-failover': boolean}[]}

async function rendered(extra: string, servers?: string): Promise<Map<string, {text: string, kea: Record<string, unknown>, ha?: Ha}>> {
  const site = parseSite(await seedServersSiteText(`backends: {dhcp: kea}\n${extra}`, servers))
  const inventory = parseInventory(await fs.readFile(path.join(FIXTURES, 'seed-nodes.yaml'), 'utf8'))
  const out = new Map<string, {text: string, kea: Record<string, unknown>, ha?: Ha}>()
  for (const s of site.servers) {
    const view = forServer(site, s.name)
    const text = renderKeaConfig({site: view, nodes: bootNodesFor(view, inventory, {image: 'debian-bookworm', revision: 2}), dhcpBoot: {bios: 'pxelinux.0', uefi: 'bootx64.efi'}})
    const kea = parseKeaConfig(text).Dhcp4
    const hooks = kea['hooks-libraries'] as {library: string, parameters?: {'high-availability': Ha[]}}[] | undefined
    out.set(s.name, {text, kea, ha: hooks?.[1]?.parameters?.['high-availability'][0]})
  }
  return out
}

describe.skipIf(!isRoot)('Kea failover as each server renders it', () => {
  it('hot-standby: the same peers on both, each itself; lease commands and the HA hook; next-server its own', async () => {
    const both = await rendered('dhcp: {interface: eth0}\n')
    const [boot1, boot2] = [both.get('boot1')!, both.get('boot2')!]
    expect(boot1.ha!['this-server-name']).toBe('boot1')
    expect(boot2.ha!['this-server-name']).toBe('boot2')
    expect(boot1.ha!.peers).toEqual([
      {name: 'boot1', url: 'http://192.168.0.10:8001/', role: 'primary', 'auto-failover': true},
      {name: 'boot2', url: 'http://192.168.0.11:8001/', role: 'standby', 'auto-failover': true},
    ])
    expect(boot2.ha!.peers).toEqual(boot1.ha!.peers)
    expect((boot1.kea['hooks-libraries'] as {library: string}[]).map((h) => h.library)).toEqual([`${keaHooksDir()}/libdhcp_lease_cmds.so`, `${keaHooksDir()}/libdhcp_ha.so`])
    expect(boot1.kea['multi-threading']).toEqual({'enable-multi-threading': true})
    const subnet = (t: typeof boot1) => (t.kea.subnet4 as Record<string, unknown>[])[0]
    expect([subnet(boot1)['next-server'], subnet(boot2)['next-server']]).toEqual(['192.168.0.10', '192.168.0.11'])
    // A node keeps its address whichever answers: the same reservations and (shared) pools on both.
    for (const key of ['reservations', 'pools']) expect(subnet(boot2)[key]).toEqual(subnet(boot1)[key])
    expect(subnet(boot1).pools).toEqual([{pool: '192.168.0.200 - 192.168.0.202'}, {pool: '192.168.0.204 - 192.168.0.210'}])
    await expectGolden('servers/boot1-kea-dhcp4.conf', boot1.text)
    await expectGolden('servers/boot2-kea-dhcp4.conf', boot2.text)
    await checkKea(checker, boot1.text)
    await checkKea(checker, boot2.text)
  })

  it('load-balancing: primary and secondary, each half of the dynamic ranges its own class', async () => {
    const both = await rendered('dhcp: {interface: eth0, ha: {mode: load-balancing}}\n')
    const boot2 = both.get('boot2')!
    expect(boot2.ha!.peers.map((p) => p.role)).toEqual(['primary', 'secondary'])
    expect((boot2.kea.subnet4 as {pools: unknown}[])[0].pools).toEqual([
      {pool: '192.168.0.200 - 192.168.0.202', 'client-class': 'HA_server1'},
      {pool: '192.168.0.204 - 192.168.0.205', 'client-class': 'HA_server1'},
      {pool: '192.168.0.206 - 192.168.0.210', 'client-class': 'HA_server2'},
    ])
    await checkKea(checker, boot2.text)
  })

  it('a third server is a backup: it receives every lease and answers no one', async () => {
    const all = await rendered('dhcp: {interface: eth0}\n', '  - {name: boot1, address: 192.168.0.10}\n  - {name: boot2, address: 192.168.0.11, haAddress: 10.9.0.2}\n  - {name: boot3, address: 192.168.0.12}\n')
    const boot3 = all.get('boot3')!
    expect(boot3.ha!.peers.map((p) => [p.name, p.url, p.role, p['auto-failover']])).toEqual([
      ['boot1', 'http://192.168.0.10:8001/', 'primary', true],
      ['boot2', 'http://10.9.0.2:8001/', 'standby', true],
      ['boot3', 'http://192.168.0.12:8001/', 'backup', false],
    ])
    await checkKea(checker, boot3.text)
  })
})

describe('the ranges split for load-balancing', () => {
  it('halves by address count, cutting a range where it must', () => {
    expect(halves([{start: '10.0.0.1', end: '10.0.0.4'}, {start: '10.0.0.10', end: '10.0.0.15'}])).toEqual([
      [{start: '10.0.0.1', end: '10.0.0.4'}, {start: '10.0.0.10', end: '10.0.0.10'}],
      [{start: '10.0.0.11', end: '10.0.0.15'}],
    ])
    expect(halves([{start: '10.0.0.1', end: '10.0.0.1'}])).toEqual([[{start: '10.0.0.1', end: '10.0.0.1'}], []])
  })
})
