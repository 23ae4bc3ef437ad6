/**
 * The lab with dnsmasq as the site's DHCP server (issue 11). Full mode: a node bound by MAC and
 * one bound by address PXE-boot in one run from the files `apply` wrote. Proxy mode: beside a
 * stand-in for the network's own DHCP server (addresses only, as README asks of a site's), a
 * MAC-bound BIOS node boots from what pxeroot's proxy alone tells it. Needs root, qemu, dnsmasq,
 * dhcpd (the stand-in), tftpd-hpa and NFS-Ganesha.
 */
import {promises as fs} from 'node:fs'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import Apply from '../../src/commands/apply.js'
import {STATE} from '../../src/system/paths.js'
import {type Golden, removeGoldenRoot, runCommand} from '../support/golden.js'
import {bootInLab, bootMacAndAddressBound, cloneNodes, expectBootedWithOneAddress, installed, isRoot, labGolden, leftovers, withDhcp} from '../support/lab-run.js'

const MAC01 = '52:54:00:d5:00:01'
const MAC02 = '52:54:00:d5:00:02'
let golden: Golden

describe.skipIf(!isRoot || !await installed('dnsmasq') || !await installed('dhcpd'))('lab boot with dnsmasq', () => {
  beforeAll(async () => {
    golden = await labGolden(withDhcp('dnsmasq'))
    await cloneNodes(golden, 2, {node01: MAC01})
  }, 1_800_000)

  afterAll(async () => {
    if (golden) await removeGoldenRoot(golden)
  })

  it('full: boots node01 (its MAC in the hosts file) and node02 (bound by address, through the range) into their own roots', async () => {
    await bootMacAndAddressBound(golden, MAC01)
    expect(await leftovers()).toEqual({namespaces: [], mounts: [], processes: []})
  }, 900_000)

  it('proxy: node01 gets its address from the network\'s own server and its boot file from pxeroot\'s proxy alone, and boots', async () => {
    // Proxy mode: every node bound by MAC, addresses from the network's server.
    await cloneNodes(golden, 2, {node02: MAC02})
    const siteFile = golden.root.resolve(STATE.siteFile)
    await fs.writeFile(siteFile, (await fs.readFile(siteFile, 'utf8')).replace('dhcp:\n  interface: eth0\n', 'dhcp:\n  interface: eth0\n  mode: proxy\n'))
    const apply = await runCommand(Apply, ['--root', golden.rootPrefix])
    expect(apply.error?.message).toBeUndefined()

    const keep = `${golden.rootPrefix}-proxy-logs`
    const result = await bootInLab(golden, ['node01'], {keepLogs: keep})
    const [n1] = result.nodes
    expect(n1, n1.reason).toMatchObject({name: 'node01', passed: true, boundBy: 'mac', mac: MAC01, hostname: 'node01'})
    // The address came from the stand-in, firmware and initramfs alike: its reservation for the MAC.
    expect(n1.ip).toBe('10.77.0.100')
    expectBootedWithOneAddress(n1)
    const router = await fs.readFile(path.join(keep, 'router-dhcpd.log'), 'utf8')
    expect(router).toMatch(new RegExp(`^DHCPACK on 10\\.77\\.0\\.100 to ${MAC01}`, 'm'))
    // It told the node nothing about booting: pxelinux.0 came from pxeroot's proxy answer.
    const standIn = (await fs.readFile(path.join(keep, 'router-dhcpd.conf'), 'utf8')).split('\n').filter((l) => !l.startsWith('#')).join('\n')
    expect(standIn).not.toMatch(/next-server|filename|option 43|option 60|vendor/)
    expect(await fs.readFile(path.join(keep, 'dnsmasq.log'), 'utf8')).toMatch(new RegExp(`PXE\\(br0\\) ${MAC01} proxy`))
    expect(await fs.readFile(path.join(keep, 'dnsmasq.conf'), 'utf8')).toContain('dhcp-range=10.77.0.0,proxy,255.255.255.0')
    await fs.rm(keep, {recursive: true, force: true})
    expect(await leftovers()).toEqual({namespaces: [], mounts: [], processes: []})
  }, 900_000)

  /*
   * Research (shared/notes/lease-proxy-grub-verified.md, Q2 b), VM runs with OVMF Secure Boot,
   * shim and bookworm's signed GRUB 2.06-13+deb12u2 behind this proxy config: shim loads from the
   * proxy's answer, but GRUB configures its network from the DHCP ACK alone, the network server's.
   * With that server's siaddr 0.0.0.0 (ISC's default, this stand-in's) GRUB sent no TFTP request
   * and stopped at grub> (prefix and root empty); with a dnsmasq server (siaddr its own address)
   * it asked that server for /grub/grub.cfg; only with next-server = pxeroot's server on the
   * network's DHCP server (dnsmasq `dhcp-boot=,,SERVER`) did it read /grub/grub.cfg and boot to
   * login. The lab cannot boot UEFI VMs yet (lab boot --firmware uefi is being added): this case
   * waits for it, with a stand-in option to send next-server.
   */
  it.todo('proxy, UEFI: GRUB reads no grub.cfg while the network\'s server sends no next-server, and boots once it sends next-server = server')
})
