import {spawnSync} from 'node:child_process'
import {promises as fs} from 'node:fs'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {acquireLock} from '../../src/system/lock.js'
import {INIT, pxeroot} from '../support/cli.js'
import {snapshotTree, freshRootPerTest} from '../support/tmp-root.js'

const tmp = freshRootPerTest()

describe('the pxeroot command line', () => {
  it('runs the issue\'s walk-through: init, nodes add by MAC, apply --dry-run, apply, nodes list --json', async () => {
    expect(pxeroot(tmp.dir, ...INIT).code).toBe(0)
    const add = pxeroot(tmp.dir, 'nodes', 'add', 'node03', '--mac', '52:54:00:12:34:56')
    expect(add.code).toBe(0)
    expect(add.stdout).toContain('create  /var/lib/tftpboot/pxelinux.cfg/01-52-54-00-12-34-56')
    expect(pxeroot(tmp.dir, 'node', 'add', 'node04').code).toBe(0)

    const dry = pxeroot(tmp.dir, 'apply', '--dry-run')
    expect(dry.code).toBe(0)
    expect(dry.stdout).toBe('Nothing to change.\n')
    await fs.rm(path.join(tmp.dir, 'var/lib/tftpboot/pxelinux.cfg/C0A800C9'))
    const before = await snapshotTree(tmp.dir)
    const dry2 = pxeroot(tmp.dir, 'apply', '--dry-run')
    expect(dry2.stdout).toContain('+++ b/var/lib/tftpboot/pxelinux.cfg/C0A800C9')
    expect(await snapshotTree(tmp.dir)).toEqual(before)
    expect(pxeroot(tmp.dir, 'apply').stdout).toContain('create  /var/lib/tftpboot/pxelinux.cfg/C0A800C9')

    const list = pxeroot(tmp.dir, 'nodes', 'list', '--json')
    expect(list.code).toBe(0)
    const rows = JSON.parse(list.stdout).nodes as {name: string, ip: string, binding: string, pxelinux: string}[]
    expect(rows.map((r) => [r.name, r.ip, r.binding, r.pxelinux])).toEqual([
      ['node03', '192.168.0.200', 'mac', 'pxelinux.cfg/01-52-54-00-12-34-56'],
      ['node04', '192.168.0.201', 'ip', 'pxelinux.cfg/C0A800C9'],
    ])
  })

  it('--json prints only JSON on stdout, errors included', async () => {
    expect(pxeroot(tmp.dir, ...INIT, '--json').stdout).toMatch(/^\{/)
    const bad = pxeroot(tmp.dir, 'nodes', 'add', 'node01', '--mac', 'zz:zz', '--json')
    expect(bad.code).toBe(2)
    expect(JSON.parse(bad.stdout).error.message).toMatch(/--mac: "zz:zz" is not a MAC address/)
  })

  it('exit codes: 2 for bad input with a one-line error naming the flag, 3 for a missing site, 5 when busy', async () => {
    const noSite = pxeroot(tmp.dir, 'apply')
    expect(noSite.code).toBe(3)
    expect(noSite.stderr).toMatch(/no site configuration.*pxeroot init/)

    const badInit = pxeroot(tmp.dir, 'init', '--server', '192.168.1.10', '--subnet', '192.168.0.0/24', '--nodes', '192.168.0.200-192.168.0.210')
    expect(badInit.code).toBe(2)
    expect(badInit.stderr.trim().split('\n')).toHaveLength(1)
    expect(badInit.stderr).toMatch(/--server: 192\.168\.1\.10 is outside subnet 192\.168\.0\.0\/24/)
    expect(await fs.readdir(tmp.dir)).toEqual([])

    expect(pxeroot(tmp.dir, ...INIT).code).toBe(0)
    const zero = pxeroot(tmp.dir, 'nodes', 'clone', '0')
    expect(zero.code).toBe(2)
    expect(zero.stderr).toMatch(/^pxeroot: Expected an integer greater than or equal to 1 but received: 0/)
    const dup = pxeroot(tmp.dir, 'nodes', 'add', 'node01', '--ip', '192.168.0.10')
    expect(dup.code).toBe(2)
    expect(dup.stderr).toMatch(/is the server's address/)

    // A live process (this test) holds the site lock: a second run must not wait or write.
    const lock = await acquireLock(path.join(tmp.dir, 'var/lib/pxeroot/lock'))
    try {
      const before = await snapshotTree(tmp.dir)
      const busy = pxeroot(tmp.dir, 'nodes', 'add', 'node01')
      expect(busy.code).toBe(5)
      expect(busy.stderr).toMatch(/busy: another pxeroot run \(pid \d+\)/)
      expect(await snapshotTree(tmp.dir)).toEqual(before)
    } finally {
      await lock.release()
    }
    expect(pxeroot(tmp.dir, 'nodes', 'add', 'node01').code).toBe(0)
  })

  it('a stale lock from a killed run is taken over', async () => {
    expect(pxeroot(tmp.dir, ...INIT).code).toBe(0)
    await fs.mkdir(path.join(tmp.dir, 'var/lib/pxeroot'), {recursive: true})
    const dead = spawnSync('sh', ['-c', 'echo $$'], {encoding: 'utf8'}).stdout.trim()
    await fs.writeFile(path.join(tmp.dir, 'var/lib/pxeroot/lock'), `${dead}\n`)
    expect(pxeroot(tmp.dir, 'apply').code).toBe(0)
  })

  it('doctor names what is missing and how to fix it', async () => {
    expect(pxeroot(tmp.dir, ...INIT).code).toBe(0)
    expect(pxeroot(tmp.dir, 'nodes', 'add', 'node01').code).toBe(0)
    const doctor = pxeroot(tmp.dir, 'doctor', '--json')
    const checks = JSON.parse(doctor.stdout).checks as {check: string, status: string, message: string, fix?: string}[]
    const byName = Object.fromEntries(checks.map((c) => [c.check, c]))
    expect(byName['boot files'].status).toBe('ok')
    expect(byName['dhcpd config'].status).toBe('ok')
    expect(byName['node boot files']).toMatchObject({status: 'warn', fix: 'pxeroot image build debian-bookworm'})
    await fs.chmod(path.join(tmp.dir, 'var/lib/tftpboot/ldlinux.c32'), 0o600)
    const again = JSON.parse(pxeroot(tmp.dir, 'doctor', '--json').stdout).checks as {check: string, status: string, message: string}[]
    expect(again.find((c) => c.check === 'tftp root')).toMatchObject({status: 'fail'})
    expect(again.find((c) => c.check === 'boot files')).toMatchObject({status: 'fail'})
    expect(pxeroot(tmp.dir, 'doctor').code).toBe(1)
  })
})
