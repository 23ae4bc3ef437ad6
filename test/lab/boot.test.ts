/**
 * The proof of boot, end to end and for real: the shared golden image, three clones (node01
 * bound by MAC, node02 and node03 by address), the boot configuration `apply` rendered, and qemu
 * VMs that PXE-boot from exactly those files inside a sealed network namespace: address-bound
 * nodes lease their address from the generated dynamic range, with no host entry. Then two
 * broken setups that must fail at the right milestone, and Ctrl-C. Needs root, qemu, dhcpd,
 * tftpd-hpa and NFS-Ganesha.
 */
import {promises as fs} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import LabBootCommand from '../../src/commands/lab/boot.js'
import {InterruptedError} from '../../src/errors.js'
import {plainConsole} from '../../src/lab/milestones.js'
import {type LabBootOptions, type LabBootResult} from '../../src/lab/run.js'
import {labBoot} from '../../src/services/lab-boot.js'
import {NETNS_PREFIX} from '../../src/system/netns.js'
import {type Golden, removeGoldenRoot, runCommand} from '../support/golden.js'
import {ACCEL, bootInLab, isRoot, labContext, labNodes, leftovers, machineIdsOf} from '../support/lab-run.js'
import {snapshotTree} from '../support/tmp-root.js'

const MAC01 = '52:54:00:aa:00:01'
/** The site's resolvers, handed to nodes by DHCP and written into each clone's /etc/resolv.conf. */
const DNS = '10.77.0.1'
const DOMAIN = 'lab.test'

let golden: Golden

const context = (signal?: AbortSignal) => labContext(golden, signal)
const boot = (nodes: string[], extra: Partial<LabBootOptions> = {}): Promise<LabBootResult> => bootInLab(golden, nodes, extra)

describe.skipIf(!isRoot)('pxeroot lab boot', () => {
  beforeAll(async () => {
    golden = await labNodes(3, MAC01, `dns: [${DNS}]\ndomain: ${DOMAIN}\n`)
  }, 1_800_000)

  afterAll(async () => {
    if (golden) await removeGoldenRoot(golden)
  })

  it('boots node01 (bound by MAC) and node02 (bound by address, through the dynamic range) into their own roots, and leaves nothing behind', async () => {
    const tftp = golden.root.resolve(golden.site.paths.tftp)
    const before = await snapshotTree(tftp)
    const machineIds = await machineIdsOf(golden, ['node01', 'node02'])

    const r = await runCommand(LabBootCommand, ['node01', 'node02', '--root', golden.rootPrefix, '--timeout', '420', '--accel', ACCEL])
    expect(r.error?.message, 'lab boot failed').toBeUndefined()
    expect(r.code).toBe(0)
    const result = r.result as LabBootResult
    const [n1, n2] = result.nodes
    expect(n1).toMatchObject({name: 'node01', passed: true, boundBy: 'mac', mac: MAC01, config: 'pxelinux.cfg/01-52-54-00-aa-00-01', hostname: 'node01'})
    expect(n2).toMatchObject({name: 'node02', passed: true, boundBy: 'ip', config: 'pxelinux.cfg/0A4D0065', hostname: 'node02'})
    // Each console shows the machine-id its clone was given: two distinct machines.
    expect([n1.machineId, n2.machineId]).toEqual(machineIds)
    expect(n1.machineId).not.toBe(n2.machineId)
    // One address through firmware, pxelinux and initramfs, from the generated dynamic range (no
    // host entry): the initramfs's DHCP client sends no client identifier and still gets the
    // firmware's lease, because dhcpd keys leases on the MAC alone (ignore-client-uids).
    for (const n of [n1, n2]) {
      expect(n.addresses, n.name).toEqual({firmware: n.ip, initramfs: n.ip})
      expect(n.acks.length, `${n.name}: ${n.acks.join(', ')}`).toBeGreaterThanOrEqual(2)
      expect(new Set(n.acks), n.name).toEqual(new Set([n.ip]))
    }
    // `nodes clone` wrote resolv.conf from the site: the booted nodes resolve with its dns and domain.
    for (const n of [n1, n2]) expect({nameservers: n.nameservers, search: n.search}, n.name).toEqual({nameservers: [DNS], search: [DOMAIN]})
    for (const node of result.nodes) {
      const times = node.milestones.map((m) => m.seconds)
      expect(times.every((t) => t !== undefined), `${node.name}: ${JSON.stringify(node.milestones)}`).toBe(true)
      // In boot order: a later milestone is never seen before an earlier one.
      expect([...times].sort((a, b) => a! - b!)).toEqual(times)
    }
    expect(result.logs).toBeUndefined()
    // `pxeroot status` of the whole site, read from the lab's own dhcpd lease file and Ganesha's
    // connections before teardown: the booted nodes up with their root mounted (node02 holding its
    // lease; dhcpd records none for node01's fixed address, and status does not count that against
    // it); node03, never booted, down.
    expect(result.status?.nodes.map((s) => [s.name, s.state, s.lease?.mac ?? null, s.leaseRecorded, s.rootMounted, s.problems])).toEqual([
      ['node01', 'up', null, false, true, []],
      ['node02', 'up', n2.mac, true, true, []],
      ['node03', 'down', null, true, false, []],
    ])
    expect(result.status?.summary).toMatchObject({up: 2, down: 1})

    expect(await snapshotTree(tftp)).toEqual(before)
    expect(await leftovers()).toEqual({namespaces: [], mounts: [], processes: []})
  }, 900_000)

  it('fails at the pxelinux file when ldlinux.c32 is missing from the tftp root, and keeps the consoles', async () => {
    const ldlinux = golden.root.resolve(`${golden.site.paths.tftp}/ldlinux.c32`)
    await fs.rename(ldlinux, `${ldlinux}.away`)
    let result: LabBootResult
    try {
      // node03 is bound by address but not the range's first free one: the seeded lease state
      // makes dhcpd offer it its own address first.
      result = await boot(['node01', 'node03'])
    } finally {
      await fs.rename(`${ldlinux}.away`, ldlinux)
    }
    expect(result.passed).toBe(false)
    expect(result.nodes[1]).toMatchObject({name: 'node03', boundBy: 'ip', ip: '10.77.0.102', addresses: {firmware: '10.77.0.102'}})
    expect(result.nodes[1].milestones.find((m) => m.id === 'lease')?.seconds).toBeDefined()
    for (const node of result.nodes) {
      expect(node).toMatchObject({passed: false, missed: 'pxelinux file'})
      expect(node.milestones.find((m) => m.id === 'loader')?.seconds).toBeDefined()
      expect(node.reason).toContain('ldlinux.c32')
      expect(plainConsole(await fs.readFile(node.serialLog!, 'latin1'))).toContain('Failed to load ldlinux.c32')
    }
    expect(result.logs).toBeDefined()
    await fs.rm(result.logs!, {recursive: true, force: true})
    expect(await leftovers()).toEqual({namespaces: [], mounts: [], processes: []})
  }, 600_000)

  it('fails at the initrd when a node\'s pxelinux entry names one that does not exist', async () => {
    const entry = golden.root.resolve(`${golden.site.paths.tftp}/pxelinux.cfg/0A4D0065`)
    const good = await fs.readFile(entry, 'utf8')
    await fs.writeFile(entry, good.replace(/initrd=(\S+)\/initrd\.img/, 'initrd=$1/initrd-missing.img'))
    const keep = `${golden.rootPrefix}-lab-logs`
    let result: LabBootResult
    try {
      result = await boot(['node02'], {keepLogs: keep})
    } finally {
      await fs.writeFile(entry, good)
    }
    const [node] = result.nodes
    expect(node).toMatchObject({name: 'node02', passed: false, missed: 'initrd'})
    expect(node.milestones.find((m) => m.id === 'kernel')?.seconds).toBeDefined()
    expect(node.reason).toMatch(/initrd-missing\.img: File not found/)
    // --keep-logs: the consoles, server logs and the lab's configs of the run.
    expect((await fs.readdir(keep)).sort()).toEqual(expect.arrayContaining(['dhcpd.conf', 'dhcpd.log', 'ganesha.conf', 'ganesha.log', 'node02.serial.log', 'node02.pxelinux.cfg']))
    expect(await fs.readFile(path.join(keep, 'node02.pxelinux.cfg'), 'utf8')).toContain('console=ttyS0')
    // The lab ran the generated files with only its documented delta: dhcpd.conf's include names
    // the file on disk (under --root), and there is no host entry of the lab's anywhere.
    const generated = await fs.readFile(golden.root.resolve('/etc/dhcp/dhcpd.conf'), 'utf8')
    expect(await fs.readFile(path.join(keep, 'dhcpd.conf'), 'utf8')).toBe(generated.replace('include "/etc/dhcp/pxeroot.conf";', `include "${golden.root.resolve('/etc/dhcp/pxeroot.conf')}";`))
    // The generated export file, each EXPORT's Path on disk (under --root), its Pseudo kept.
    const exportsText = await fs.readFile(golden.root.resolve('/etc/ganesha/pxeroot.conf'), 'utf8')
    expect(await fs.readFile(path.join(keep, 'ganesha-pxeroot.conf'), 'utf8')).toBe(exportsText.replace(/ Path = "([^"]*)";/g, (_, p: string) => ` Path = "${golden.root.resolve(p)}";`))
    await fs.rm(keep, {recursive: true, force: true})
  }, 600_000)

  it('on Ctrl-C stops the VMs and servers, deletes the namespace and says it was interrupted', async () => {
    const labDirsBefore = (await fs.readdir(os.tmpdir())).filter((f) => f.startsWith(`${NETNS_PREFIX}${process.pid}-`)).length
    const abort = new AbortController()
    const ctx = context(abort.signal)
    const run = labBoot(ctx, {nodes: ['node01'], timeout: 420, accel: ACCEL})
    const outcome = run.then(() => undefined, (error: Error) => error)
    for (let i = 0; i < 600 && !ctx.lines.some((l) => l.includes('booting')); i++) await sleep(100)
    await sleep(3000)
    abort.abort(new InterruptedError('interrupted by SIGINT'))
    expect(await outcome).toBeInstanceOf(InterruptedError)
    expect(await leftovers()).toEqual({namespaces: [], mounts: [], processes: []})
    expect((await fs.readdir(os.tmpdir())).filter((f) => f.startsWith(`${NETNS_PREFIX}${process.pid}-`)).length).toBe(labDirsBefore)
  }, 300_000)

  it('refuses nodes that are not in the inventory before starting anything', async () => {
    const r = await runCommand(LabBootCommand, ['node01', 'node09', '--root', golden.rootPrefix])
    expect(r.code).toBe(2)
    expect(await leftovers()).toEqual({namespaces: [], mounts: [], processes: []})
  })
})
