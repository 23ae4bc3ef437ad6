/**
 * How `servers list`, status and doctor read the other servers: each one's pxeroot/server.json
 * over TFTP and Kea's HA hook's answer to ha-heartbeat, through curl (faked here; the lab's
 * failover case asks the real tftpd-hpa and Kea), and what each answer means to an operator.
 */
import {describe, expect, it} from 'vitest'

import {forServer} from '../../src/config/servers.js'
import {parseSite} from '../../src/config/site-file.js'
import {serverChecks} from '../../src/doctor/servers.js'
import {parseInventory} from '../../src/inventory/inventory.js'
import {serversReport} from '../../src/cli/servers-report.js'
import {parseHeartbeat, probeServers} from '../../src/servers/probe.js'
import {renderServerRecord, siteVersion} from '../../src/servers/record.js'
import {rootsByServer} from '../../src/servers/roots.js'
import {fakeRunner} from '../support/fakes.js'
import {seedServersSiteText} from '../support/seed-model.js'

const NODES = 'nodes:\n  - {name: node01, ip: 192.168.0.201}\n  - {name: node02, ip: 192.168.0.202, server: boot2}\n'
const heartbeat = (state: string, scopes: string[]) => `[ { "arguments": { "date-time": "Fri, 04 Dec 2026 15:19:10 GMT", "scopes": ${JSON.stringify(scopes)}, "state": "${state}", "unsent-update-count": 0 }, "result": 0, "text": "HA peer status returned." } ]`

async function kea() {
  const site = forServer(parseSite(await seedServersSiteText('backends: {dhcp: kea}\ndhcp: {interface: eth0}\n')), 'boot1')
  const inventory = parseInventory(NODES)
  return {site, inventory, version: siteVersion(site, inventory)}
}

describe('asking the servers', () => {
  it('a server that answers both, with the state this run sees; one that is down, named with what it costs', async () => {
    const {site, inventory, version} = await kea()
    const runner = fakeRunner(({args}) => {
      const url = args.at(-1)!
      if (url === 'tftp://192.168.0.10/pxeroot/server.json') return {stdout: renderServerRecord({format: 1, server: 'boot1', address: '192.168.0.10', role: 'primary', site: version, nodes: 2, roots: ['node01']})}
      if (url === 'http://192.168.0.10:8001/') return {stdout: heartbeat('partner-down', ['boot1', 'boot2'])}
      // boot2: nothing answers within the bound.
      return {exitCode: 28, stderr: 'curl: (28) Connection timed out after 2001 milliseconds'}
    })
    const [boot1, boot2] = await probeServers(runner, site, version, rootsByServer(site, inventory))
    expect(boot1).toMatchObject({name: 'boot1', role: 'primary', self: true, reachable: true, current: true, ha: {state: 'partner-down', scopes: ['boot1', 'boot2'], unsent: 0}, roots: ['node01'], problems: []})
    expect(boot2).toMatchObject({name: 'boot2', role: 'standby', self: false, reachable: false, current: null, roots: ['node02']})
    expect(boot2.problems).toEqual([
      'no TFTP answer from 192.168.0.11 in 2 s: down, or not on this network; the roots it holds (node02) are not served',
      'its Kea HA listener (http://192.168.0.11:8001/) did not answer: Connection timed out after 2001 milliseconds',
    ])
    // Both questions bounded, the HA one as the partner asks it.
    expect(runner.calls.find((c) => c.args.includes('http://192.168.0.11:8001/'))!.args).toEqual(['-sS', '--max-time', '2', '-X', 'POST', '-H', 'Content-Type: application/json', '-d', '{"command": "ha-heartbeat", "service": ["dhcp4"]}', 'http://192.168.0.11:8001/'])
    const report = serversReport({site: version, servers: [boot1, boot2]})
    expect(report).toMatch(/^SERVER +ADDRESS +ROLE +REACHABLE +DHCP FAILOVER +RENDERED +ROOTS\nboot1 \* +192\.168\.0\.10 +primary +yes +partner-down, answering for boot1, boot2 +current \([0-9a-f]{12}\) +1\nboot2 +192\.168\.0\.11 +standby +NO +no answer +- +1\n/)
    expect(report).toContain('! boot2: no TFTP answer from 192.168.0.11')
  })

  it('a server that rendered another state, or none, is told to apply; doctor says so per server', async () => {
    const {site, inventory, version} = await kea()
    const runner = fakeRunner(({args}) => {
      const url = args.at(-1)!
      if (url.startsWith('tftp://192.168.0.10/')) return {exitCode: 68, stderr: 'curl: (68) TFTP: File Not Found'}
      if (url.startsWith('tftp://192.168.0.11/')) return {stdout: renderServerRecord({format: 1, server: 'boot2', address: '192.168.0.11', role: 'standby', site: 'abcdefabcdef', nodes: 2, roots: []})}
      return {stdout: heartbeat('hot-standby', url.includes('.10:') ? ['boot1'] : [])}
    })
    const checks = await serverChecks(runner, site, inventory)
    expect(checks.map((c) => [c.check, c.status])).toEqual([['dhcp failover', 'ok'], ['server boot1', 'warn'], ['server boot2', 'warn']])
    expect(checks[1].message).toMatch(/its TFTP server answers but has no pxeroot\/server\.json: run "pxeroot apply --server boot1" there/)
    expect(checks[2].message).toMatch(/it rendered another state of the site \(abcdefabcdef\): run "pxeroot apply --server boot2" there/)
    expect(version).not.toBe('abcdefabcdef')
  })

  it('under --root nothing is sent: each server is listed, not asked', async () => {
    const {site, inventory, version} = await kea()
    const views = await probeServers(undefined, site, version, rootsByServer(site, inventory))
    expect(views.map((v) => [v.name, v.reachable, v.problems])).toEqual([['boot1', null, []], ['boot2', null, []]])
    expect((await serverChecks(undefined, site, inventory)).map((c) => c.status)).toEqual(['ok', 'skip', 'skip'])
  })

  it('ISC with several servers: doctor warns that there is no DHCP failover, and says what would give one', async () => {
    const site = forServer(parseSite(await seedServersSiteText()), 'boot2')
    const [failover] = await serverChecks(undefined, site, parseInventory(NODES))
    expect(failover).toMatchObject({check: 'dhcp failover', status: 'warn', fix: expect.stringMatching(/^set backends\.dhcp: kea/)})
    expect(failover.message).toMatch(/^backends\.dhcp isc gets no DHCP failover: only boot1 answers DHCP/)
  })

  it('reads Kea\'s refusals and oddities as errors, never as a state', () => {
    expect(parseHeartbeat('{ "result": 403, "text": "Forbidden" }')).toEqual({error: 'Forbidden'})
    expect(parseHeartbeat('[ { "result": 1, "text": "unable to forward command to the dhcp4 service" } ]')).toEqual({error: 'unable to forward command to the dhcp4 service'})
    expect(parseHeartbeat('<html>')).toEqual({error: 'not a Kea answer'})
  })
})
