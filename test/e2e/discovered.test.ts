/**
 * Issue 20 on the command line, with the built CLI: a damaged lease file is named by status and
 * doctor, machines in no node are listed by status, and `nodes add NAME --discovered` adopts one
 * (the real dhcpd -t and exportfs check the result, as on a server).
 */
import {promises as fs} from 'node:fs'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {INIT, pxeroot} from '../support/cli.js'
import {FIXTURES, freshRootPerTest, snapshotTree} from '../support/tmp-root.js'

const tmp = freshRootPerTest()
const put = async (hostPath: string, text: string) => {
  await fs.mkdir(path.dirname(path.join(tmp.dir, hostPath)), {recursive: true})
  await fs.writeFile(path.join(tmp.dir, hostPath), text)
}
const ago = (seconds: number) => new Date(Date.now() - seconds * 1000).toISOString().replace('Z', '+00:00')

describe('machines that PXE-boot but are in no node', () => {
  it('status names the damaged lease entries and lists the unknown machine; nodes add --discovered binds a node to it', async () => {
    expect(pxeroot(tmp.dir, ...INIT).code).toBe(0)
    await put('var/lib/dhcp/dhcpd.leases', await fs.readFile(path.join(FIXTURES, 'leases/dhcpd-damaged.leases'), 'utf8'))
    await put('var/log/syslog', `${ago(40)} server dhcpd[812]: DHCPDISCOVER from 52:54:00:00:00:f0 via eth0: network 192.168.0.0/24: no free leases\n`)

    const status = pxeroot(tmp.dir, 'status')
    expect(status.code).toBe(0)
    expect(status.stdout).toContain('leases: 2 entries could not be read, so their machines may show without a lease: /var/lib/dhcp/dhcpd.leases line 36 (hardware ethernet 52:54:00:00:0 is no MAC address), line 49 (the entry is cut short: no closing brace)')
    expect(status.stdout).toMatch(/^52:54:00:00:00:f0 +- +\S+ \S+Z +DHCPDISCOVER: no free leases$/m)
    // The fixture's leases (November 2026, no node yet) are older than the hour: listed after it, newest first.
    const json = JSON.parse(pxeroot(tmp.dir, 'status', '--json').stdout)
    expect(json.unknown.map((u: {mac: string}) => u.mac)).toEqual(['52:54:00:00:00:f0', '52:54:00:00:00:e7', '52:54:00:00:00:b2', '52:54:00:00:00:a1'])
    expect(json.unreadableLeases).toHaveLength(2)

    const doctor = JSON.parse(pxeroot(tmp.dir, 'doctor', '--json').stdout)
    expect(doctor.checks.find((c: {check: string}) => c.check === 'leases')).toMatchObject({status: 'warn', message: expect.stringContaining('line 49 (the entry is cut short: no closing brace)')})

    const added = pxeroot(tmp.dir, 'nodes', 'add', 'node07', '--discovered', '--json')
    expect(added.code, added.stderr).toBe(0)
    expect(JSON.parse(added.stdout).discovered).toMatchObject({mac: '52:54:00:00:00:f0', asked: ['DHCPDISCOVER: no free leases']})
    expect(await fs.readFile(path.join(tmp.dir, 'etc/pxeroot/nodes.yaml'), 'utf8')).toMatch(/- name: node07\n {4}ip: 192\.168\.0\.200\n {4}mac: 52:54:00:00:00:f0\n/)
    expect(await fs.readFile(path.join(tmp.dir, 'etc/dhcp/pxeroot.conf'), 'utf8')).toContain('hardware ethernet 52:54:00:00:00:f0;')
  })

  it('two machines within the hour: --discovered refuses with both (exit 2, nothing changed); --discovered --mac takes the one named', async () => {
    expect(pxeroot(tmp.dir, ...INIT).code).toBe(0)
    await put('var/log/syslog', `${ago(50)} server dhcpd[812]: DHCPDISCOVER from 52:54:00:00:00:f1 via eth0\n${ago(20)} server dhcpd[812]: DHCPDISCOVER from 52:54:00:00:00:f2 via eth0\n`)
    const before = await snapshotTree(tmp.dir)
    const refused = pxeroot(tmp.dir, 'nodes', 'add', 'node07', '--discovered')
    expect(refused.code).toBe(2)
    expect(refused.stderr.trim().split('\n')).toHaveLength(1)
    expect(refused.stderr).toMatch(/^pxeroot: --discovered: 2 unknown machines were seen, too close together to tell which is meant: 52:54:00:00:00:f2 seen \S+, 52:54:00:00:00:f1 seen \S+ \(pick one with --discovered --mac MAC/)
    expect(await snapshotTree(tmp.dir)).toEqual(before)

    expect(pxeroot(tmp.dir, 'nodes', 'add', 'node07', '--discovered', '--mac', '52:54:00:00:00:f1').code).toBe(0)
    expect(JSON.parse(pxeroot(tmp.dir, 'status', '--json').stdout).unknown.map((u: {mac: string}) => u.mac)).toEqual(['52:54:00:00:00:f2'])
  })
})
