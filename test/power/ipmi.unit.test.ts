/**
 * The IPMI driver's edges, with a fake runner: the argv of every ipmitool call (never the
 * password: it travels in ipmitool's environment, -E), what its outputs mean, and the refusal
 * of nodes without a BMC or password before any BMC is asked. The real ipmitool against
 * OpenIPMI's ipmi_sim is test/power/ipmi-sim.test.ts; VMs behind it, test/lab/rollout.test.ts.
 */
import {promises as fs} from 'node:fs'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {ipmiDriver, ipmiProblem, ipmitoolArgs, parsePowerStatus} from '../../src/backends/power/ipmi.js'
import {bmcPassword, checkedPassword, loadBmcSecrets, parseBmcSecrets, renderBmcSecrets} from '../../src/backends/power/secrets.js'
import {type BmcTarget} from '../../src/backends/power/types.js'
import {expandRange} from '../../src/inventory/ranges.js'
import {powerNodes} from '../../src/services/nodes-power.js'
import {makeRoot} from '../../src/system/paths.js'
import {type RunOptions, type Runner} from '../../src/system/runner.js'
import {freshRootPerTest, seedSite, testContext} from '../support/tmp-root.js'

const PASSWORD = 'Zx9-s3cret-pw'

/** ipmitool's words as OpenIPMI's ipmi_sim and a silent address gave them here (ipmitool 1.8.19, -v). */
const OUT = {
  on: {stdout: 'Chassis Power is on', stderr: 'Loading IANA PEN Registry...\nRunning Get VSO Capabilities my_addr 0x20, transit 0, target 0x20\nInvalid completion code received: Invalid command\nDiscovered IPMB address 0x0'},
  badPassword: {exitCode: 1, stdout: '', stderr: 'Loading IANA PEN Registry...\n> RAKP 2 HMAC is invalid\nError: Unable to establish IPMI v2 / RMCP+ session'},
  silent: {exitCode: 1, stdout: '', stderr: 'Loading IANA PEN Registry...\nGet Auth Capabilities error\nError issuing Get Channel Authentication Capabilities request\nError: Unable to establish IPMI v2 / RMCP+ session'},
}

/** A runner that answers like ipmitool and keeps every call's argv and environment. */
function ipmitoolRunner(answer: (args: readonly string[]) => {exitCode?: number, stdout: string, stderr: string}): Runner & {calls: {command: string, args: readonly string[], env: RunOptions['env']}[]} {
  const calls: {command: string, args: readonly string[], env: RunOptions['env']}[] = []
  return {
    calls,
    async run(command, args, options = {}) {
      calls.push({command, args, env: options.env})
      return {exitCode: 0, ...answer(args)}
    },
  }
}

const target: BmcTarget = {node: 'node01', bmc: {driver: 'ipmi', address: '10.0.1.101', user: 'admin', cipher: 3}, password: PASSWORD}

describe('the IPMI driver (ipmitool)', () => {
  it('passes the password in the environment (-E), never on the command line', async () => {
    const runner = ipmitoolRunner(() => OUT.on)
    expect(await ipmiDriver.status(target, {runner, http: undefined as never})).toBe('on')
    await ipmiDriver.act(target, 'soft', {runner, http: undefined as never})
    expect(runner.calls.map((c) => [c.command, ...c.args].join(' '))).toEqual([
      'ipmitool -I lanplus -H 10.0.1.101 -U admin -E -C 3 -N 2 -R 2 -v chassis power status',
      'ipmitool -I lanplus -H 10.0.1.101 -U admin -E -C 3 -N 2 -R 2 -v chassis power soft',
    ])
    for (const c of runner.calls) {
      expect(c.args.join(' ')).not.toContain(PASSWORD)
      expect(c.env).toEqual({IPMI_PASSWORD: PASSWORD})
    }
    expect(ipmitoolArgs({bmc: {driver: 'ipmi', address: 'bmc7', user: 'ops'}}, 'off')).toEqual(['-I', 'lanplus', '-H', 'bmc7', '-U', 'ops', '-E', '-N', '2', '-R', '2', '-v', 'chassis', 'power', 'off'])
  })

  it('tells a refused password from a BMC that does not answer, in one line that names the fix', () => {
    expect(parsePowerStatus('Chassis Power is off\n')).toBe('off')
    const auth = ipmiProblem('node01', '10.0.1.101', 'admin', OUT.badPassword.stderr)
    expect(auth).toMatchObject({problem: 'auth', exitCode: 2, message: 'node01: the BMC at 10.0.1.101 refused user "admin" or its password'})
    expect(auth.suggestion).toContain('pxeroot nodes set node01 --bmc-password-file FILE')
    const silent = ipmiProblem('node01', '10.0.1.101', 'admin', OUT.silent.stderr)
    expect(silent).toMatchObject({problem: 'unreachable', exitCode: 3})
    expect(silent.message).toMatch(/^node01: the BMC at 10\.0\.1\.101 does not answer IPMI over LAN \(Get Auth Capabilities error; /)
    expect(silent.message).not.toContain('IANA')
  })
})

describe('BMC passwords', () => {
  const tmp = freshRootPerTest()

  it('one line per node, everything after the first space; the environment serves nodes without one', () => {
    const secrets = parseBmcSecrets('# comment\nnode01 pa ss\nnode02\tx\n')
    expect([...secrets]).toEqual([['node01', 'pa ss'], ['node02', 'x']])
    expect(parseBmcSecrets(renderBmcSecrets(secrets))).toEqual(secrets)
    expect(() => parseBmcSecrets('node01\n')).toThrow(/line 1: expected NAME PASSWORD/)
    expect(bmcPassword('node01', secrets, {})).toBe('pa ss')
    expect(bmcPassword('node03', secrets, {PXEROOT_BMC_PASSWORD: 'env'})).toBe('env')
    expect(bmcPassword('node03', secrets, {})).toBeUndefined()
    expect(checkedPassword('s3cret\nignored\n', 'ipmi', 'F')).toBe('s3cret')
    expect(() => checkedPassword('x'.repeat(21), 'ipmi', 'F')).toThrow(/longer than 20 bytes/)
    expect(checkedPassword('x'.repeat(21), 'redfish', 'F')).toHaveLength(21)
    expect(() => checkedPassword('\n', 'ipmi', 'F')).toThrow(/holds no password/)
  })

  it('refuses a secrets file others may read', async () => {
    await fs.mkdir(path.join(tmp.dir, 'etc/pxeroot'), {recursive: true})
    await fs.writeFile(path.join(tmp.dir, 'etc/pxeroot/bmc-secrets'), 'node01 x\n', {mode: 0o644})
    await expect(loadBmcSecrets(makeRoot(tmp.dir))).rejects.toThrow(/may be read by others \(mode 0644/)
    await fs.chmod(path.join(tmp.dir, 'etc/pxeroot/bmc-secrets'), 0o600)
    expect((await loadBmcSecrets(makeRoot(tmp.dir))).get('node01')).toBe('x')
  })

  it('nodes power refuses, before asking any BMC, every node that has no BMC or no password: one line each', async () => {
    await seedSite(tmp.dir, {nodes: true})
    const file = path.join(tmp.dir, 'etc/pxeroot/nodes.yaml')
    await fs.writeFile(file, (await fs.readFile(file, 'utf8')).replace('  - name: node02\n', '  - name: node02\n    bmc: {address: 10.0.1.102, user: admin}\n'))
    const runner = ipmitoolRunner(() => OUT.on)
    const error = await powerNodes(testContext(tmp.dir, runner), {nodes: ['node01..node03'], verb: 'off', timeout: 5}).catch((e: Error) => e)
    expect(error).toMatchObject({exitCode: 2})
    expect((error as Error).message.split('\n')).toEqual([
      '3 node(s) cannot be power-controlled, so nothing was powered:',
      '  node01: has no BMC: give it one with "pxeroot nodes set node01 --bmc ADDR --bmc-user USER --bmc-password-file FILE"',
      '  node02: no password for its BMC at 10.0.1.102: "pxeroot nodes set node02 --bmc-password-file FILE", or PXEROOT_BMC_PASSWORD in the environment',
      '  node03: has no BMC: give it one with "pxeroot nodes set node03 --bmc ADDR --bmc-user USER --bmc-password-file FILE"',
    ])
    expect(runner.calls).toEqual([])
  })
})

describe('node ranges', () => {
  it('node01..node10 is every name between, at the width written; a wrong range says how to write it', () => {
    expect(expandRange('node08..node11')).toEqual(['node08', 'node09', 'node10', 'node11'])
    expect(expandRange('n9..n11')).toEqual(['n9', 'n10', 'n11'])
    expect(expandRange('node03')).toEqual(['node03'])
    expect(() => expandRange('node03..gpu05')).toThrow(/not a range of node names/)
    expect(() => expandRange('node05..node03')).toThrow(/runs backwards/)
  })
})
