/**
 * The lab with Kea as the site's DHCP server (issue 11): a node bound by MAC (a reservation) and
 * one bound by address (from the generated pool, the lab seeding only lease state) PXE-boot in
 * one run from the files `apply` wrote, Kea running them with the lab's delta alone. Needs root,
 * qemu, kea-dhcp4, tftpd-hpa and NFS-Ganesha.
 */
import {promises as fs} from 'node:fs'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {type Golden, removeGoldenRoot} from '../support/golden.js'
import {bootMacAndAddressBound, cloneNodes, installed, isRoot, labGolden, leftovers, withDhcp} from '../support/lab-run.js'

const MAC01 = '52:54:00:ea:00:01'
let golden: Golden

describe.skipIf(!isRoot || !await installed('kea-dhcp4'))('lab boot with Kea', () => {
  beforeAll(async () => {
    golden = await labGolden(withDhcp('kea'))
    await cloneNodes(golden, 2, {node01: MAC01})
  }, 1_800_000)

  afterAll(async () => {
    if (golden) await removeGoldenRoot(golden)
  })

  it('boots node01 (reserved for its MAC) and node02 (bound by address, through the pool) into their own roots', async () => {
    const keep = `${golden.rootPrefix}-lab-logs`
    const result = await bootMacAndAddressBound(golden, MAC01, {keepLogs: keep})
    for (const n of result.nodes) expect(n.kernelInitrd?.over).toBe('tftp')
    // Kea ran the generated configuration: its log shows it served the lab's bridge and its reservation.
    const log = await fs.readFile(path.join(keep, 'kea-dhcp4.log'), 'utf8')
    expect(log).toMatch(new RegExp(`DHCP4_LEASE_ALLOC \\[hwtype=1 ${MAC01}\\].*lease 10\\.77\\.0\\.100 has been allocated`))
    const conf = JSON.parse(await fs.readFile(path.join(keep, 'kea-dhcp4.conf'), 'utf8')) as {Dhcp4: {subnet4: {reservations: {'hw-address': string}[]}[]}}
    expect(conf.Dhcp4.subnet4[0].reservations.map((r) => r['hw-address'])).toEqual([MAC01])
    await fs.rm(keep, {recursive: true, force: true})
    expect(await leftovers()).toEqual({namespaces: [], mounts: [], processes: []})
  }, 900_000)
})
