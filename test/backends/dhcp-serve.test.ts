/**
 * Kea and dnsmasq serving the files `apply` wrote, through the lab's delta functions (private
 * paths and interface only), in network namespaces these tests create: real DHCP exchanges of a
 * PXE client and of the initramfs's DHCP client, and a reload that keeps the leases.
 */
import {promises as fs} from 'node:fs'
import path from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {applyBootConfig} from '../../src/apply/apply.js'
import {DNSMASQ_PATHS, dnsmasqDhcp} from '../../src/backends/dhcp/dnsmasq.js'
import {keaDhcp} from '../../src/backends/dhcp/kea.js'
import {dhcpBootFor} from '../../src/backends/registry.js'
import {type LabDaemon, type LabEnv, type ServiceBackend} from '../../src/backends/types.js'
import {parseSite} from '../../src/config/site-file.js'
import {makeRoot} from '../../src/system/paths.js'
import {addNodeEntry} from '../../src/services/nodes-add.js'
import {dhcpNet, pidFrom, type DhcpNet, type Reply} from '../support/dhcp-net.js'
import {DNSMASQ_SITE, KEA_SITE, PROXY_SITE, seedNodesAllByMac, seedSiteText} from '../support/seed-model.js'
import {seedSite, testContext, tmpRoot} from '../support/tmp-root.js'

const NODE03 = '52:54:00:ab:cd:ef'
/** An address-bound machine: no host entry, its address comes from the dynamic range. */
const LOOSE = '52:54:00:00:00:a1'
const DYNAMIC = /^192\.168\.0\.(20[0-24-9]|210)$/
/** What apply hands UEFI clients today (none until a UEFI loader is published). */
const UEFI_FILE = dhcpBootFor(parseSite(await seedSiteText())).uefi ?? ''

let dir: string
let net: DhcpNet
let cleanup: () => Promise<void>
beforeEach(async () => {
  ({dir, cleanup} = await tmpRoot())
  net = await dhcpNet('192.168.0.10/24')
})
afterEach(async () => {
  await net?.destroy()
  await cleanup()
})

/** The site applied under the temporary root, and the lab's run of its DHCP daemon (the backend's lab hook). */
async function applied(siteExtra: string, backend: ServiceBackend, nodes?: string, offers: LabEnv['offers'] = []) {
  await seedSite(dir, {nodes: nodes === undefined, site: await seedSiteText(siteExtra)})
  if (nodes !== undefined) await fs.writeFile(path.join(dir, 'etc/pxeroot/nodes.yaml'), nodes)
  await applyBootConfig(testContext(dir))
  // dnsmasq reads its hosts file after dropping root: the run directory must be open to it.
  const runDir = await fs.mkdtemp(path.join(dir, 'run-'))
  await fs.chmod(dir, 0o755)
  await fs.chmod(runDir, 0o755)
  const lab = async () => backend.lab!({
    generated: new Map(await Promise.all(backend.paths.map(async (p) => [p, await fs.readFile(path.join(dir, p), 'utf8').catch(() => undefined)] as const))),
    runDir, iface: net.serverIf, root: makeRoot(dir), server: '192.168.0.10', offers, now: Math.floor(Date.now() / 1000),
  })
  return {runDir, daemon: await lab(), again: lab}
}

/** A node range address other than the one a machine leased (an address-bound lease is not taken away). */
const freeBesides = (leased?: string) => (leased === '192.168.0.209' ? '192.168.0.208' : '192.168.0.209')

/**
 * The addresses a machine leases through its boot stages: the firmware (client identifier
 * 01+MAC), a stage that sends another identifier (e.g. a UEFI firmware's own), and the
 * initramfs (none). Servers that key leases on the client identifier hand the second a new address.
 */
async function throughBootStages(mac: string) {
  const firmware = await net.probe({mac, clientId: true, request: true})
  const other = await net.probe({mac, clientId: '00112233445566778899aabbccddeeff00', request: true})
  const initramfs = await net.probe({mac, ipconfig: true, request: true})
  return [firmware.ack?.yiaddr, other.ack?.yiaddr, initramfs.ack?.yiaddr]
}

/**
 * What a full-mode server answers on the seed network: node03 (bound by MAC) its address, name,
 * next-server and the boot file of its architecture; an address-bound machine one address through
 * every boot stage, which the lab's lease reader finds in the log. Returns node03's BIOS offer.
 */
async function expectSeedAnswers(daemon: LabDaemon, uefiArch: number): Promise<Reply> {
  const bios = (await net.probe({mac: NODE03, arch: 0, clientId: true})).offer
  expect(bios).toMatchObject({yiaddr: '192.168.0.203', siaddr: '192.168.0.10', file: 'pxelinux.0'})
  expect(Buffer.from(bios!.options[12], 'hex').toString()).toBe('node03')
  expect((await net.probe({mac: NODE03, arch: uefiArch})).offer).toMatchObject({yiaddr: '192.168.0.203', file: UEFI_FILE})
  const [firmware, ...later] = await throughBootStages(LOOSE)
  expect(firmware).toMatch(DYNAMIC)
  expect(later).toEqual([firmware, firmware])
  expect(daemon.acks!(await fs.readFile(daemon.log, 'utf8'))).toContainEqual({ip: firmware, mac: LOOSE})
  return bios!
}

/**
 * Adds node04 through `nodes add`, gives the running daemon the lab's version of the new files
 * and a SIGHUP (what the units' ExecReload sends): the new node is served, the address-bound
 * machine keeps its lease, and the process is the same. Returns what `nodes add` changed.
 */
async function addNodeAndSighup(again: () => Promise<LabDaemon>, runDir: string, pidFile: string, before?: string) {
  const added = await addNodeEntry(testContext(dir), 'node04', {mac: '52:54:00:00:00:04', ip: freeBesides(before)})
  // The lab's versions of the configuration files; the lease files are the running daemon's.
  for (const f of (await again()).files.filter((f) => !/leases/.test(f.name))) await fs.writeFile(path.join(runDir, f.name), f.content)
  const pid = await pidFrom(pidFile)
  process.kill(pid, 'SIGHUP')
  await expect.poll(async () => (await net.probe({mac: '52:54:00:00:00:04'})).offer?.yiaddr, {timeout: 15_000}).toBe(freeBesides(before))
  expect(await throughBootStages(LOOSE)).toEqual([before, before, before])
  expect(await pidFrom(pidFile)).toBe(pid)
  return added
}

describe('Kea serves the generated configuration', () => {
  it('a MAC-bound node gets its address, name, next-server and boot file by architecture; an address-bound machine keeps one address through every boot stage', async () => {
    const {runDir, daemon} = await applied(KEA_SITE, keaDhcp)
    await net.start(daemon, runDir)
    await expectSeedAnswers(daemon, 7)
  })

  it('a reload (SIGHUP, as the drop-in\'s ExecReload sends) takes a new node and keeps the leases', async () => {
    const {runDir, daemon, again} = await applied(KEA_SITE, keaDhcp)
    await net.start(daemon, runDir)
    const [before] = await throughBootStages(LOOSE)
    await addNodeAndSighup(again, runDir, path.join(runDir, 'kea-dhcp4.kea-dhcp4.pid'), before)
  })
})

describe('the lab\'s seeded lease state', () => {
  // node01 is bound by address to 192.168.0.201; the lab gives its VM LOOSE and seeds a lease.
  for (const [name, extra, backend] of [['Kea', KEA_SITE, keaDhcp], ['dnsmasq', DNSMASQ_SITE, dnsmasqDhcp]] as const) {
    it(`makes ${name} offer an address-bound node's VM that node's address through every boot stage, with no host entry`, async () => {
      const {runDir, daemon} = await applied(extra, backend, undefined, [{mac: LOOSE, ip: '192.168.0.208'}])
      await net.start(daemon, runDir)
      expect(await throughBootStages(LOOSE)).toEqual(['192.168.0.208', '192.168.0.208', '192.168.0.208'])
      // Another machine gets another address (dnsmasq: the seeded lease still runs; Kea: the lease is free, but Kea walks the pool from its start).
      expect((await net.probe({mac: '52:54:00:00:00:b2', clientId: true, request: true})).ack?.yiaddr).not.toBe('192.168.0.208')
      expect(daemon.acks!(await fs.readFile(daemon.log, 'utf8'))[0]).toEqual({ip: '192.168.0.208', mac: LOOSE})
    })
  }
})

describe('dnsmasq serves the generated configuration', () => {
  it('full: a MAC-bound node\'s address, name, router and boot file; an address-bound machine keeps one address through every boot stage', async () => {
    const {runDir, daemon} = await applied(DNSMASQ_SITE, dnsmasqDhcp)
    await net.start(daemon, runDir)
    const bios = await expectSeedAnswers(daemon, 9)
    expect(Buffer.from(bios.options[3], 'hex')).toEqual(Buffer.from([192, 168, 0, 10]))
  })

  it('adding a node changes only the hosts file, and a SIGHUP serves it without a restart', async () => {
    const {runDir, daemon, again} = await applied(DNSMASQ_SITE, dnsmasqDhcp)
    await net.start(daemon, runDir)
    const [before] = await throughBootStages(LOOSE)
    const added = await addNodeAndSighup(again, runDir, path.join(runDir, 'dnsmasq.pid'), before)
    expect(added.changes.map((c) => c.path).filter((p) => p.startsWith('/etc/pxeroot/dnsmasq') || p.endsWith('.service'))).toEqual([DNSMASQ_PATHS.hosts])
  })

  it('proxy: no address from pxeroot, a PXE answer naming this server for the nodes, silence for other machines', async () => {
    const {runDir, daemon} = await applied(PROXY_SITE, dnsmasqDhcp, await seedNodesAllByMac())
    await net.start(daemon, runDir)
    const bios = await net.probe({mac: '52:54:00:00:00:01', arch: 0})
    expect(bios.offer?.yiaddr).toBe('0.0.0.0')
    // The PXE menu (option 43): boot server 192.168.0.10 and pxeroot's entry.
    expect(bios.offer!.options[43]).toContain('c0a8000a')
    expect(Buffer.from(bios.offer!.options[43], 'hex').toString('latin1')).toContain('pxeroot (BIOS)')
    const uefi = await net.probe({mac: NODE03, arch: 7})
    expect(uefi.offer).toMatchObject({yiaddr: '0.0.0.0', siaddr: '192.168.0.10'})
    expect((await net.probe({mac: LOOSE, arch: 0})).offer).toBeNull()
    // The nodes' PXE answers are all its log shows: it acknowledged no address.
    const log = await fs.readFile(daemon.log, 'utf8')
    expect([...log.matchAll(/PXE\(pxr0\) ([0-9a-f:]{17}) proxy$/gm)].map((m) => m[1])).toEqual(['52:54:00:00:00:01', NODE03])
    expect(daemon.acks).toBeUndefined()
  })
})
