/**
 * Several boot servers through the built CLI, as an admin types it: init --servers, apply
 * --server on each (refused without one under --root), nodes add recording the server it ran on,
 * servers list (under --root: listed, not asked), and the refusals in one line with exit 2.
 */
import {promises as fs} from 'node:fs'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {parseSite} from '../../src/config/site-file.js'
import {pxeroot} from '../support/cli.js'
import {freshRootPerTest} from '../support/tmp-root.js'

const INIT = ['init', '--servers', 'boot1=192.168.0.10,boot2=192.168.0.11', '--subnet', '192.168.0.0/24', '--nodes', '192.168.0.200-192.168.0.210', '--dhcp', 'kea', '--interface', 'eth0']
const tmp = freshRootPerTest()

describe('several servers from the command line', () => {
  it('init --servers writes servers: and Kea\'s failover; apply --server renders that server\'s share', async () => {
    expect(pxeroot(tmp.dir, ...INIT).code).toBe(0)
    const site = parseSite(await fs.readFile(path.join(tmp.dir, 'etc/pxeroot/pxeroot.yaml'), 'utf8'))
    expect(site.servers.map((s) => `${s.name}=${s.address}`)).toEqual(['boot1=192.168.0.10', 'boot2=192.168.0.11'])
    expect(site.dhcp.ha).toMatchObject({mode: 'hot-standby', port: 8001})
    const none = pxeroot(tmp.dir, 'apply', '--dry-run')
    expect(none.code).toBe(2)
    expect(none.stderr.trim().split('\n')).toHaveLength(1)
    expect(none.stderr).toMatch(/the site has several servers .* say which one this run is for \(--server NAME, or PXEROOT_SERVER=NAME\)/)
    const dry = pxeroot(tmp.dir, 'apply', '--dry-run', '--server', 'boot2')
    expect(dry.code).toBe(0)
    expect(dry.stdout).toContain('+            "this-server-name": "boot2",')
    expect(dry.stdout).toContain('+    "next-server": "192.168.0.11",')
    const added = pxeroot(tmp.dir, 'nodes', 'add', 'node01', '--json')
    expect(added.code).toBe(2)
    process.env.PXEROOT_SERVER = 'boot2'
    try {
      expect(pxeroot(tmp.dir, 'nodes', 'add', 'node01').code).toBe(0)
    } finally {
      delete process.env.PXEROOT_SERVER
    }
    expect(await fs.readFile(path.join(tmp.dir, 'etc/pxeroot/nodes.yaml'), 'utf8')).toMatch(/name: node01\n\s+ip: 192\.168\.0\.200\n\s+server: boot2\n/)
    const list = pxeroot(tmp.dir, 'servers', 'list', '--json')
    expect(list.code).toBe(0)
    const listed = JSON.parse(list.stdout) as {servers: {name: string, role: string, reachable: boolean | null, roots: string[]}[]}
    expect(listed.servers.map((s) => [s.name, s.role, s.reachable, s.roots])).toEqual([['boot1', 'primary', null, []], ['boot2', 'standby', null, ['node01']]])
  })

  it('refuses --server and --servers together, and a server the site does not have', async () => {
    const both = pxeroot(tmp.dir, ...INIT, '--server', '192.168.0.10')
    expect(both.code).toBe(2)
    await expect(fs.stat(path.join(tmp.dir, 'etc/pxeroot/pxeroot.yaml'))).rejects.toThrow()
    expect(pxeroot(tmp.dir, ...INIT).code).toBe(0)
    const unknown = pxeroot(tmp.dir, 'apply', '--dry-run', '--server', 'boot3')
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toMatch(/--server boot3: no such server; the site's servers are boot1 \(192\.168\.0\.10\), boot2 \(192\.168\.0\.11\)/)
  })
})
