import {spawnSync} from 'node:child_process'
import {promises as fs} from 'node:fs'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {parseSite} from '../../src/config/site-file.js'
import {freshRootPerTest} from '../support/tmp-root.js'

// The built CLI (npm test builds first), as a user runs it.
const BIN = path.resolve(import.meta.dirname, '../../bin/run.js')
function pxeroot(root: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], {env: {...process.env, PXEROOT_ROOT: root, NODE_ENV: 'production'}, encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe']})
  return {code: r.status, stdout: r.stdout, stderr: r.stderr}
}
const INIT = ['init', '--server', '192.168.0.10', '--subnet', '192.168.0.0/24', '--nodes', '192.168.0.200-192.168.0.210']
const tmp = freshRootPerTest()
const site = async () => parseSite(await fs.readFile(path.join(tmp.dir, 'etc/pxeroot/pxeroot.yaml'), 'utf8'))

describe('init chooses the DHCP server', () => {
  it('--dhcp kea --interface: the site file says so, and apply --dry-run shows Kea\'s files', async () => {
    expect(pxeroot(tmp.dir, ...INIT, '--dhcp', 'kea', '--interface', 'eth0').code).toBe(0)
    expect(await site()).toMatchObject({backends: {dhcp: 'kea'}, dhcp: {mode: 'full', interface: 'eth0'}})
    const dry = pxeroot(tmp.dir, 'apply', '--dry-run')
    expect(dry.code).toBe(0)
    expect(dry.stdout).toContain('+++ b/etc/kea/pxeroot/kea-dhcp4.conf')
    expect(dry.stdout).not.toContain('/etc/dhcp/')
  })

  it('--dhcp dnsmasq --proxy: nodes are added by MAC; one without a MAC is refused (exit 2, one line)', async () => {
    expect(pxeroot(tmp.dir, ...INIT, '--dhcp', 'dnsmasq', '--proxy', '--interface', 'eth0').code).toBe(0)
    expect((await site()).dhcp.mode).toBe('proxy')
    const loose = pxeroot(tmp.dir, 'nodes', 'add', 'node01')
    expect(loose.code).toBe(2)
    expect(loose.stderr.trim().split('\n')).toHaveLength(1)
    expect(loose.stderr).toMatch(/in proxy mode \(dhcp\.mode: proxy\) the network's DHCP server picks addresses/)
    expect(pxeroot(tmp.dir, 'nodes', 'add', 'node01', '--mac', '52:54:00:00:00:01').code).toBe(0)
    expect(await fs.readFile(path.join(tmp.dir, 'etc/pxeroot/dnsmasq-hosts'), 'utf8')).toContain('52:54:00:00:00:01,set:node\n')
  })

  it('refuses --proxy without dnsmasq, and Kea without an interface it can find, before writing anything', async () => {
    const proxy = pxeroot(tmp.dir, ...INIT, '--proxy')
    expect(proxy.code).toBe(2)
    expect(proxy.stderr).toMatch(/--proxy needs --dhcp dnsmasq/)
    // No interface of this machine holds 192.168.0.10, so init cannot pick one.
    const kea = pxeroot(tmp.dir, ...INIT, '--dhcp', 'kea')
    expect(kea.code).toBe(2)
    expect(kea.stderr).toMatch(/--interface: is required with backends\.dhcp: kea; name the interface that holds 192\.168\.0\.10/)
    expect(await fs.readdir(tmp.dir)).toEqual([])
  })

  it('without --interface, takes the interface of this machine that holds the server address (lo holds 127.0.0.1)', async () => {
    const r = pxeroot(tmp.dir, 'init', '--server', '127.0.0.1', '--subnet', '127.0.0.0/8', '--nodes', '127.0.0.200-127.0.0.210', '--dhcp', 'dnsmasq')
    expect(r.code).toBe(0)
    expect(r.stderr).toContain('dnsmasq will serve on lo, the interface that holds 127.0.0.1')
    expect((await site()).dhcp.interface).toBe('lo')
  })
})
