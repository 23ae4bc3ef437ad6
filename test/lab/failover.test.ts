/**
 * Two boot servers, one site (issue 18): boot1 and boot2 in one lab, each on the files its own
 * `apply --server` wrote into its own root (two machines' roots here), each running Kea with the
 * HA hook in hot-standby, tftpd and NFS-Ganesha. node02 (bound by address) boots while both serve
 * and boot1 answers it; boot1's daemons are killed; boot2 takes over and node01 (bound by MAC)
 * boots from it alone, while node02 runs on (both roots are boot2's). Needs root, qemu, Kea,
 * tftpd-hpa and NFS-Ganesha.
 */
import {promises as fs} from 'node:fs'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {applyBootConfig} from '../../src/apply/apply.js'
import {failoverReport} from '../../src/lab/failover-report.js'
import {type FailoverResult} from '../../src/lab/pair.js'
import {labFailover} from '../../src/services/lab-failover.js'
import {cloneNodes} from '../../src/services/nodes-clone.js'
import {setNodeEntry} from '../../src/services/nodes-set.js'
import {STATE} from '../../src/system/paths.js'
import {type Golden, removeGoldenRoot} from '../support/golden.js'
import {ACCEL, expectBootedWithOneAddress, installed, isRoot, labContext, labGolden, leftovers, withDhcp} from '../support/lab-run.js'

const MAC01 = '52:54:00:ea:18:01'
/** The golden site with two servers at the lab's server address and the next, Kea in hot-standby between them. */
const twoServers = (site: string) => withDhcp('kea')(site).replace('server: 10.77.0.1\n', 'servers:\n  - {name: boot1, address: 10.77.0.1}\n  - {name: boot2, address: 10.77.0.2}\n')
let boot1: Golden
let boot2: Golden

describe.skipIf(!isRoot || !await installed('kea-dhcp4'))('two boot servers fail over (Kea HA, hot-standby)', () => {
  beforeAll(async () => {
    // Two machines: each its own root with the site and the golden image; the nodes are cloned on boot2.
    boot1 = await labGolden(twoServers)
    boot2 = await labGolden(twoServers)
    const on2 = {...labContext(boot2), server: 'boot2'}
    await cloneNodes(on2, {count: 2})
    await setNodeEntry(on2, 'node01', {mac: MAC01})
    // The site state is shared (one inventory), each server renders its own share.
    await fs.copyFile(boot2.root.resolve(STATE.inventoryFile), boot1.root.resolve(STATE.inventoryFile))
    await applyBootConfig({...labContext(boot1), server: 'boot1'})
  }, 1_800_000)

  afterAll(async () => {
    for (const g of [boot1, boot2]) if (g) await removeGoldenRoot(g)
  })

  it('node02 boots from the pair (boot1 answers), boot1 is lost, boot2 takes over, node01 boots from boot2 and node02 runs on', async () => {
    const keep = `${boot1.rootPrefix}-lab-logs`
    let result: FailoverResult
    try {
      result = await labFailover(labContext(boot1), {first: 'node02', second: 'node01', serverRoots: {boot2: boot2.rootPrefix}, timeout: 420, accel: ACCEL, keepLogs: keep})
    } catch (error) {
      result = (error as {result?: FailoverResult}).result!
      if (!result) throw error
    }
    process.stderr.write(failoverReport(result))
    expect(result.before).toEqual({primary: expect.objectContaining({state: 'hot-standby'}), standby: expect.objectContaining({state: 'hot-standby'})})
    // While both serve, the primary alone answers; its lease reaches the standby's own lease database.
    expect(result.first, result.first.reason).toMatchObject({name: 'node02', passed: true, boundBy: 'ip', ip: '10.77.0.101', hostname: 'node02', answeredBy: ['boot1']})
    expectBootedWithOneAddress(result.first)
    expect(result.leaseOnStandby).toMatchObject({ip: '10.77.0.101', mac: result.first.mac, active: true})
    expect(result.failover.state).toBe('partner-down')
    expect(result.failover.partnerDownSeconds).toBeLessThan(30)
    // The standby answers alone, next-server its own: every boot file from boot2.
    expect(result.second, result.second?.reason).toMatchObject({name: 'node01', passed: true, boundBy: 'mac', mac: MAC01, ip: '10.77.0.100', hostname: 'node01', answeredBy: ['boot2']})
    expectBootedWithOneAddress(result.second!)
    expect(result.firstAfter).toEqual({running: true, nfsTrouble: []})
    // servers list as the boot network saw it.
    const view = (v: FailoverResult['servers']) => v && Object.fromEntries([...v.before.map((s) => [`before ${s.name}`, [s.reachable, s.current, s.ha && 'state' in s.ha ? s.ha.state : 'none']]), ...v.after.map((s) => [`after ${s.name}`, [s.reachable, s.current, s.ha && 'state' in s.ha ? s.ha.state : 'none']])])
    expect(view(result.servers)).toEqual({
      'before boot1': [true, true, 'hot-standby'], 'before boot2': [true, true, 'hot-standby'],
      'after boot1': [false, null, 'none'], 'after boot2': [true, true, 'partner-down'],
    })
    expect(result.passed).toBe(true)
    // Each server's Kea log: its own HA name.
    expect(await fs.readFile(path.join(keep, 'kea-dhcp4.log'), 'utf8')).toMatch(/HA_STATE_TRANSITION server transitions from .* to HOT-STANDBY/)
    expect(await fs.readFile(path.join(keep, 'boot2', 'kea-dhcp4.log'), 'utf8')).toMatch(/HA_STATE_TRANSITION server transitions from HOT-STANDBY to PARTNER-DOWN/)
    await fs.rm(keep, {recursive: true, force: true})
    expect(await leftovers()).toEqual({namespaces: [], mounts: [], processes: []})
  }, 1_200_000)
})
