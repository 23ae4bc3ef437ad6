import {promises as fs} from 'node:fs'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {packagesFor} from '../../src/backends/registry.js'
import Init from '../../src/commands/init.js'
import {parseSite} from '../../src/config/site-file.js'
import {runCommand} from '../support/run-command.js'
import {freshRootPerTest} from '../support/tmp-root.js'

const tmp = freshRootPerTest()
const INIT = ['--server', '192.168.0.10', '--subnet', '192.168.0.0/24', '--nodes', '192.168.0.200-192.168.0.210']

describe('init --transport', () => {
  it('http: the site file says so, with the web server\'s port, and --install-packages would install lighttpd and ipxe instead of pxelinux', async () => {
    expect((await runCommand(Init, [...INIT, '--transport', 'http', '--root', tmp.dir])).code).toBe(0)
    const text = await fs.readFile(path.join(tmp.dir, 'etc/pxeroot/pxeroot.yaml'), 'utf8')
    expect(text).toMatch(/^ {2}transport: http +# kernel and initrd over tftp \(pxelinux\) or http/m)
    const site = parseSite(text)
    expect([site.boot.transport, site.boot.httpPort]).toEqual(['http', 80])
    const pkgs = packagesFor(site)
    expect(pkgs).toEqual(expect.arrayContaining(['lighttpd', 'ipxe', 'tftpd-hpa', 'isc-dhcp-server']))
    expect(pkgs).not.toContain('pxelinux')
  })

  it('refuses a transport it does not know, naming the flag, and writes nothing', async () => {
    const r = await runCommand(Init, [...INIT, '--transport', 'ftp', '--root', tmp.dir])
    // oclif refuses the value itself (exit 1 today, as it does for --nfs).
    expect(r.code).not.toBe(0)
    expect(r.error?.message).toMatch(/Expected --transport=ftp to be one of: tftp, http/)
    expect(await fs.readdir(tmp.dir)).toEqual([])
  })
})
