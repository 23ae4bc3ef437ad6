import {promises as fs} from 'node:fs'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {applyBootConfig, touchedServices} from '../../src/apply/apply.js'
import {DNSMASQ_PATHS} from '../../src/backends/dhcp/dnsmasq.js'
import {ISC_PATHS} from '../../src/backends/dhcp/isc.js'
import {KEA_PATHS} from '../../src/backends/dhcp/kea.js'
import {parseSite} from '../../src/config/site-file.js'
import {UserError, ValidationError} from '../../src/errors.js'
import {parseInventory} from '../../src/inventory/inventory.js'
import {addNodeEntry} from '../../src/services/nodes-add.js'
import {removeNodeAndRoot} from '../../src/services/nodes-rm.js'
import {setNodeEntry} from '../../src/services/nodes-set.js'
import {DNSMASQ_SITE, KEA_SITE, PROXY_SITE, seedNodesAllByMac, seedSiteText} from '../support/seed-model.js'
import {freshRootPerTest, seedSite, snapshotTree, testContext} from '../support/tmp-root.js'

const tmp = freshRootPerTest()
const read = (p: string) => fs.readFile(path.join(tmp.dir, p), 'utf8')
const ctx = () => testContext(tmp.dir)
/** Every file under the root but pxeroot's own site, inventory and state. */
async function renderedFiles(): Promise<string[]> {
  return [...(await snapshotTree(tmp.dir)).keys()].map((p) => `/${p}`).filter((p) => !p.endsWith('/') && !p.startsWith('/etc/pxeroot/pxeroot.yaml') && !p.startsWith('/etc/pxeroot/nodes.yaml') && !p.startsWith('/var/lib/pxeroot/')).sort()
}
// The loaders' files do not depend on the DHCP server: BIOS (pxelinux) and UEFI (shim + GRUB) are both served by default.
const TFTP = ['/var/lib/tftpboot/bootx64.efi', '/var/lib/tftpboot/grub/grub.cfg', '/var/lib/tftpboot/grub/nodes/01-52-54-00-ab-cd-ef.cfg',
  '/var/lib/tftpboot/grub/nodes/C0A800C9.cfg', '/var/lib/tftpboot/grub/nodes/C0A800CA.cfg', '/var/lib/tftpboot/grubx64.efi', '/var/lib/tftpboot/ldlinux.c32', '/var/lib/tftpboot/pxelinux.0', '/var/lib/tftpboot/pxelinux.cfg/01-52-54-00-ab-cd-ef',
  '/var/lib/tftpboot/pxelinux.cfg/C0A800C9', '/var/lib/tftpboot/pxelinux.cfg/C0A800CA', '/var/lib/tftpboot/pxelinux.cfg/default']
const COMMON = ['/etc/default/tftpd-hpa', '/etc/exports.d/pxeroot.exports', ...TFTP]

describe('apply with Kea or dnsmasq, checked by the real kea-dhcp4 -t and dnsmasq --test', () => {
  it('Kea: its own complete config and the unit drop-in, nothing in /etc/dhcp; a second apply changes nothing', async () => {
    await seedSite(tmp.dir, {nodes: true, site: await seedSiteText(KEA_SITE)})
    await applyBootConfig(ctx())
    expect(await renderedFiles()).toEqual([KEA_PATHS.config, ...COMMON, KEA_PATHS.dropIn].sort())
    expect(await read(KEA_PATHS.dropIn)).toContain(`ExecStart=/usr/sbin/kea-dhcp4 -c ${KEA_PATHS.config}\n`)
    expect((await applyBootConfig(ctx())).changes).toEqual([])
  })

  it('dnsmasq: its config, hosts file and unit; a second apply changes nothing', async () => {
    await seedSite(tmp.dir, {nodes: true, site: await seedSiteText(DNSMASQ_SITE)})
    await applyBootConfig(ctx())
    expect(await renderedFiles()).toEqual([DNSMASQ_PATHS.hosts, DNSMASQ_PATHS.main, ...COMMON, DNSMASQ_PATHS.unit].sort())
    expect(await read(DNSMASQ_PATHS.hosts)).toContain('\n52:54:00:ab:cd:ef,192.168.0.203,node03\n')
    expect((await applyBootConfig(ctx())).changes).toEqual([])
  })

  // pxeroot's rules refuse such a router in the site file; handed straight to apply (as a gap in
  // those rules would let it through), the daemon's own checker is what stops it.
  for (const [backend, extra, reason] of [
    ['Kea', KEA_SITE, /^kea-dhcp4 rejects the generated configuration: .*'192\.168\.0\.300'.* \(\/etc\/kea\/pxeroot\/kea-dhcp4\.conf line \d+, from router\)$/],
    ['dnsmasq', DNSMASQ_SITE, /^dnsmasq rejects the generated configuration: bad IPv4 address \(\/etc\/pxeroot\/dnsmasq\.conf line \d+, from router\)$/],
  ] as const) {
    it(`${backend}: a candidate the daemon refuses leaves the live files byte-identical and says the daemon's reason`, async () => {
      await seedSite(tmp.dir, {nodes: true, site: await seedSiteText(extra)})
      await applyBootConfig(ctx())
      const site = {...parseSite(await read('etc/pxeroot/pxeroot.yaml')), router: '192.168.0.300'}
      const inventory = parseInventory(`${await read('etc/pxeroot/nodes.yaml')}  - {name: node04, ip: 192.168.0.204, mac: "52:54:00:00:00:04"}\n`)
      const before = await snapshotTree(tmp.dir)
      const error = await applyBootConfig(ctx(), {site, inventory}).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(ValidationError)
      expect((error as Error).message).toMatch(reason)
      expect(await snapshotTree(tmp.dir)).toEqual(before)
    })
  }
})

describe('switching DHCP backends', () => {
  it('isc → kea → dnsmasq → isc: each step removes the old backend\'s files and include line, and reloads both the right way', async () => {
    await seedSite(tmp.dir, {nodes: true, site: await seedSiteText()})
    const own = 'ddns-update-style none;\noption domain-name "lab.example";\nauthoritative;\n'
    await fs.mkdir(path.join(tmp.dir, 'etc/dhcp'), {recursive: true})
    await fs.writeFile(path.join(tmp.dir, 'etc/dhcp/dhcpd.conf'), own)
    const use = async (extra: string) => {
      await fs.writeFile(path.join(tmp.dir, 'etc/pxeroot/pxeroot.yaml'), await seedSiteText(extra))
      const result = await applyBootConfig(ctx())
      const owned = JSON.parse(await read('var/lib/pxeroot/owned.json')) as {files: string[]}
      const site = parseSite(await seedSiteText(extra))
      const reloads = touchedServices(site, result.changes.map((c) => c.path)).map(({backend, cause}) => ({name: backend.name, retired: cause.retired, commands: backend.reload(cause).map((c) => [c.command, ...c.args].join(' '))}))
      return {files: await renderedFiles(), owned: owned.files, reloads}
    }

    const isc = await use('')
    expect(isc.files).toEqual([ISC_PATHS.main, ISC_PATHS.include, ...COMMON].sort())
    expect(await read(ISC_PATHS.main)).toBe(`${own}include "/etc/dhcp/pxeroot.conf";\n`)

    const kea = await use(KEA_SITE)
    expect(kea.files).toEqual([ISC_PATHS.main, KEA_PATHS.config, ...COMMON, KEA_PATHS.dropIn].sort())
    expect(await read(ISC_PATHS.main)).toBe(own)
    expect(kea.owned).toEqual([KEA_PATHS.config, ...COMMON, KEA_PATHS.dropIn].sort())
    expect(kea.reloads).toEqual(expect.arrayContaining([
      {name: 'isc', retired: true, commands: ['systemctl try-restart isc-dhcp-server.service']},
      {name: 'kea', retired: false, commands: ['systemctl daemon-reload', 'systemctl try-restart kea-dhcp4-server.service']},
    ]))

    const dnsmasq = await use(DNSMASQ_SITE)
    expect(dnsmasq.files).toEqual([ISC_PATHS.main, DNSMASQ_PATHS.hosts, DNSMASQ_PATHS.main, ...COMMON, DNSMASQ_PATHS.unit].sort())
    expect(dnsmasq.reloads).toEqual(expect.arrayContaining([
      {name: 'kea', retired: true, commands: ['systemctl daemon-reload', 'systemctl try-restart kea-dhcp4-server.service']},
      {name: 'dnsmasq', retired: false, commands: ['systemctl daemon-reload', 'systemctl try-restart pxeroot-dnsmasq.service']},
    ]))

    const back = await use('')
    expect(back.files).toEqual(isc.files)
    expect(await read(ISC_PATHS.main)).toBe(`${own}include "/etc/dhcp/pxeroot.conf";\n`)
    expect(back.reloads).toEqual(expect.arrayContaining([
      {name: 'dnsmasq', retired: true, commands: ['systemctl stop pxeroot-dnsmasq.service', 'systemctl disable pxeroot-dnsmasq.service', 'systemctl daemon-reload']},
    ]))
  })

  it('a node change with dnsmasq touches only the hosts file and reloads (SIGHUP) instead of restarting', async () => {
    await seedSite(tmp.dir, {nodes: true, site: await seedSiteText(DNSMASQ_SITE)})
    await applyBootConfig(ctx())
    const result = await addNodeEntry(ctx(), 'node04', {mac: '52:54:00:00:00:04'})
    const site = parseSite(await seedSiteText(DNSMASQ_SITE))
    const [dhcp] = touchedServices(site, result.changes.map((c) => c.path)).filter((t) => t.backend.kind === 'dhcp')
    expect(dhcp.cause.changed).toEqual([DNSMASQ_PATHS.hosts])
    expect(dhcp.backend.reload(dhcp.cause)).toEqual([{command: 'systemctl', args: ['try-reload-or-restart', 'pxeroot-dnsmasq.service']}])
  })
})

describe('proxy mode', () => {
  it('refuses nodes bound by address, saying why, with nothing written', async () => {
    await seedSite(tmp.dir, {nodes: true, site: await seedSiteText(PROXY_SITE)})
    const before = await snapshotTree(tmp.dir)
    await expect(applyBootConfig(ctx())).rejects.toThrow(/node "node01": has no MAC, and in proxy mode \(dhcp\.mode: proxy\) the network's DHCP server picks addresses, so a node is found by its MAC alone; give it one \(pxeroot nodes set node01 --mac/)
    await expect(addNodeEntry(ctx(), 'node09', {})).rejects.toThrow(UserError)
    expect(await snapshotTree(tmp.dir)).toEqual(before)
  })

  it('exports each node root to the address the network\'s server gives that node, never to the subnet', async () => {
    await seedSite(tmp.dir, {site: await seedSiteText(PROXY_SITE)})
    await fs.writeFile(path.join(tmp.dir, 'etc/pxeroot/nodes.yaml'), await seedNodesAllByMac())
    await applyBootConfig(ctx())
    const roots = (await read('etc/exports.d/pxeroot.exports')).split('\n').filter((l) => l.startsWith('/srv/nodes/'))
    expect(roots.map((l) => l.split('(')[0])).toEqual(['/srv/nodes/node01 192.168.0.201', '/srv/nodes/node02 192.168.0.202', '/srv/nodes/node03 192.168.0.203'])
    expect(await read(DNSMASQ_PATHS.hosts)).not.toMatch(/192\.168/)
  })
})

describe('nodes add/set/rm with each DHCP backend', () => {
  const backends = [
    {name: 'isc', extra: 'pool: 192.168.0.220-192.168.0.240\n', file: ISC_PATHS.include, entry: (mac: string, ip: string) => `hardware ethernet ${mac}; fixed-address ${ip};`},
    {name: 'kea', extra: `${KEA_SITE}pool: 192.168.0.220-192.168.0.240\n`, file: KEA_PATHS.config, entry: (mac: string, ip: string) => `{"hw-address": "${mac}", "ip-address": "${ip}", "hostname": "node04"}`},
    {name: 'dnsmasq', extra: `${DNSMASQ_SITE}pool: 192.168.0.220-192.168.0.240\n`, file: DNSMASQ_PATHS.hosts, entry: (mac: string, ip: string) => `${mac},${ip},node04`},
  ]
  for (const b of backends) {
    it(`${b.name}: a node's reservation follows add, set and rm; bad input is refused with nothing written`, async () => {
      await seedSite(tmp.dir, {nodes: true, site: await seedSiteText(b.extra)})
      await applyBootConfig(ctx())
      await addNodeEntry(ctx(), 'node04', {mac: '52:54:00:00:00:04', ip: '192.168.0.209'})
      expect(await read(b.file)).toContain(b.entry('52:54:00:00:00:04', '192.168.0.209'))
      await setNodeEntry(ctx(), 'node04', {mac: '52:54:00:00:00:44'})
      expect(await read(b.file)).toContain(b.entry('52:54:00:00:00:44', '192.168.0.209'))
      expect(await read(b.file)).not.toContain('52:54:00:00:00:04')
      await setNodeEntry(ctx(), 'node04', {mac: null})
      expect(await read(b.file)).not.toContain('52:54:00:00:00:44')

      const before = await snapshotTree(tmp.dir)
      const refused: [() => Promise<unknown>, RegExp][] = [
        [() => addNodeEntry(ctx(), 'node05', {mac: '52:54:00:AB:CD:EF'}), /mac 52:54:00:ab:cd:ef is already used by node "node03"/],
        [() => addNodeEntry(ctx(), 'node05', {mac: '52:54:00:00:00:05', ip: '192.168.0.230'}), /lies in the dynamic pool/],
        [() => addNodeEntry(ctx(), 'node05', {mac: '52:54:00:00:00:05', ip: '10.0.0.5'}), /outside subnet 192\.168\.0\.0\/24/],
      ]
      for (const [attempt, message] of refused) await expect(attempt()).rejects.toThrow(message)
      expect(await snapshotTree(tmp.dir)).toEqual(before)

      await removeNodeAndRoot(ctx(), 'node04', {})
      expect(await read(b.file)).not.toContain('node04')
    })
  }

  it('dnsmasq proxy: a node\'s PXE answer follows add, set and rm; taking its MAC away is refused', async () => {
    await seedSite(tmp.dir, {site: await seedSiteText(PROXY_SITE)})
    await fs.writeFile(path.join(tmp.dir, 'etc/pxeroot/nodes.yaml'), await seedNodesAllByMac())
    await applyBootConfig(ctx())
    await addNodeEntry(ctx(), 'node04', {mac: '52:54:00:00:00:04'})
    expect(await read(DNSMASQ_PATHS.hosts)).toContain('\n52:54:00:00:00:04,set:node\n')
    await setNodeEntry(ctx(), 'node04', {mac: '52:54:00:00:00:44'})
    expect(await read(DNSMASQ_PATHS.hosts)).toContain('\n52:54:00:00:00:44,set:node\n')
    const before = await snapshotTree(tmp.dir)
    await expect(setNodeEntry(ctx(), 'node04', {mac: null})).rejects.toThrow(/node "node04": has no MAC, and in proxy mode/)
    await expect(addNodeEntry(ctx(), 'node05', {mac: '52:54:00:00:00:44'})).rejects.toThrow(/is already used by node "node04"/)
    expect(await snapshotTree(tmp.dir)).toEqual(before)
    await removeNodeAndRoot(ctx(), 'node04', {})
    expect(await read(DNSMASQ_PATHS.hosts)).not.toContain('52:54:00:00:00:44')
  })

  it('dnsmasq: a node name dnsmasq would read as a lease time or a keyword is refused before anything is written', async () => {
    await seedSite(tmp.dir, {nodes: true, site: await seedSiteText(DNSMASQ_SITE)})
    await applyBootConfig(ctx())
    const before = await snapshotTree(tmp.dir)
    await expect(addNodeEntry(ctx(), '5d', {mac: '52:54:00:00:00:05'})).rejects.toThrow('node "5d": dnsmasq reads a host name like "5d" as a lease time, not a name; rename the node (e.g. node-5d)')
    await expect(addNodeEntry(ctx(), 'ignore', {mac: '52:54:00:00:00:05'})).rejects.toThrow(/its keyword "ignore"/)
    expect(await snapshotTree(tmp.dir)).toEqual(before)
  })
})
