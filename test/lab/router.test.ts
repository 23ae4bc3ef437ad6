/**
 * The lab's stand-in for the network's own DHCP server in proxy mode: what README asks of a
 * site's server (addresses only, each node's address reserved for its MAC), nothing that could
 * tell a node where to boot from, and dhcpd accepts it.
 */
import {execa} from 'execa'
import {promises as fs} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {parseSite} from '../../src/config/site-file.js'
import {standInDhcpd} from '../../src/lab/router.js'

const SITE = 'server: 10.77.0.1\nsubnet: 10.77.0.0/24\nnodes:\n  range: 10.77.0.100-10.77.0.150\nbackends: {dhcp: dnsmasq}\ndhcp: {mode: proxy, interface: eth0}\n'
const NODES = [{name: 'node01', mac: '52:54:00:aa:00:01', ip: '10.77.0.100'}]

describe('the stand-in for the network\'s own DHCP server, run', () => {
  it.each([undefined, '10.77.0.1'])('runs as dhcpd in the foreground with its files in the run directory, and dhcpd accepts its configuration (next-server %s)', async (nextServer) => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pxeroot-router-'))
    try {
      const spec = standInDhcpd({runDir: dir, iface: 'eth0'}, parseSite(SITE), '10.77.0.254', NODES, nextServer)
      expect([spec.program, ...spec.args]).toEqual(['dhcpd', '-f', '-d', '-4', '-cf', `${dir}/router-dhcpd.conf`, '-lf', `${dir}/router-dhcpd.leases`, '-pf', `${dir}/router-dhcpd.pid`, 'eth0'])
      for (const f of spec.files) await fs.writeFile(path.join(dir, f.name), f.content)
      const test = await execa('dhcpd', ['-t', '-4', '-cf', path.join(dir, 'router-dhcpd.conf')], {reject: false})
      expect(test.exitCode, test.stderr).toBe(0)
    } finally {
      await fs.rm(dir, {recursive: true, force: true})
    }
  })
})
