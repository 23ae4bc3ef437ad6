/**
 * The Redfish driver through the real HTTPS client (undici) against a stand-in BMC on
 * 127.0.0.1 that serves DMTF's ComputerSystem resources with a self-signed certificate
 * (test/support/redfish-bmc.ts: no Redfish emulator is packaged in Debian 12). The certificate is
 * verified unless the node's bmc says otherwise.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {undiciHttp} from '../../src/backends/power/http.js'
import {redfishDriver} from '../../src/backends/power/redfish.js'
import {BmcError, type BmcTarget, type PowerIo} from '../../src/backends/power/types.js'
import {waitForPower} from '../../src/backends/power/wait.js'
import {fakeRunner} from '../support/fakes.js'
import {type RedfishBmc, startRedfishBmc} from '../support/redfish-bmc.js'

const PASSWORD = 'r3dfish-Pw'
const io: PowerIo = {runner: fakeRunner(), http: undiciHttp}

describe('the Redfish driver', () => {
  let bmc: RedfishBmc
  let target: BmcTarget
  beforeAll(async () => {
    bmc = await startRedfishBmc('admin', PASSWORD)
    target = {node: 'node01', bmc: {driver: 'redfish', address: bmc.address, user: 'admin', ca: '/etc/pxeroot/bmc-ca.pem'}, ca: bmc.cert, password: PASSWORD}
  })
  afterAll(async () => bmc?.close())

  it('finds the only system, reads PowerState, and resets it with On, GracefulShutdown and ForceOff', async () => {
    expect(await redfishDriver.status(target, io)).toBe('off')
    await redfishDriver.act(target, 'on', io)
    expect(await redfishDriver.status(target, io)).toBe('on')
    await redfishDriver.act(target, 'soft', io)
    // Powering off is still on, until the OS has shut down.
    expect(await redfishDriver.status(target, io)).toBe('on')
    expect(await waitForPower(redfishDriver, target, io, 'off', 5000, 100)).toBe(true)
    await redfishDriver.act(target, 'on', io)
    await redfishDriver.act(target, 'off', io)
    expect(await redfishDriver.status(target, io)).toBe('off')
    const resets = bmc.requests.filter((r) => r.method === 'POST')
    expect(resets.map((r) => [r.path, r.body])).toEqual([
      ['/redfish/v1/Systems/437XR1138R2/Actions/ComputerSystem.Reset', {ResetType: 'On'}],
      ['/redfish/v1/Systems/437XR1138R2/Actions/ComputerSystem.Reset', {ResetType: 'GracefulShutdown'}],
      ['/redfish/v1/Systems/437XR1138R2/Actions/ComputerSystem.Reset', {ResetType: 'On'}],
      ['/redfish/v1/Systems/437XR1138R2/Actions/ComputerSystem.Reset', {ResetType: 'ForceOff'}],
    ])
    // Basic authentication over TLS: the password is in no URL or body.
    expect(bmc.requests.every((r) => !r.path.includes(PASSWORD) && !JSON.stringify(r.body ?? '').includes(PASSWORD))).toBe(true)
  })

  it('a wrong password is refused by the BMC (auth); a certificate it cannot verify, or no answer, is unreachable; each in one line with the fix', async () => {
    const wrong = await redfishDriver.status({...target, password: 'nope'}, io).catch((e: BmcError) => e)
    expect(wrong).toBeInstanceOf(BmcError)
    expect(wrong).toMatchObject({problem: 'auth', message: `node01: the BMC at ${bmc.address} refused user "admin" or its password (HTTP 401)`})
    const untrusted = await redfishDriver.status({...target, ca: undefined}, io).catch((e: BmcError) => e)
    expect(untrusted).toMatchObject({problem: 'unreachable'})
    expect((untrusted as BmcError).message).toMatch(/has a certificate pxeroot does not trust \(.*(SELF_SIGNED|CERT).*\)/)
    expect((untrusted as BmcError).suggestion).toContain('--bmc-ca FILE')
    // The admin's choice for a lab BMC: no verification.
    expect(await redfishDriver.status({...target, ca: undefined, bmc: {...target.bmc, insecure: true}}, io)).toBe('off')
    const closed = await redfishDriver.status({...target, bmc: {...target.bmc, address: '127.0.0.1:9'}}, io).catch((e: BmcError) => e)
    expect(closed).toMatchObject({problem: 'unreachable', message: 'node01: the BMC at 127.0.0.1:9 does not answer Redfish over HTTPS (ECONNREFUSED)'})
  })

  it('a BMC of several systems needs the node\'s named', async () => {
    const many = await startRedfishBmc('admin', PASSWORD, {systems: 2})
    try {
      const t: BmcTarget = {...target, bmc: {...target.bmc, address: many.address}, ca: many.cert}
      await expect(redfishDriver.status(t, io)).rejects.toThrow(/has 2 systems \(\/redfish\/v1\/Systems\/437XR1138R2, \/redfish\/v1\/Systems\/2\)/)
      expect(await redfishDriver.status({...t, bmc: {...t.bmc, system: '/redfish/v1/Systems/2'}}, io)).toBe('off')
    } finally {
      await many.close()
    }
  })
})
