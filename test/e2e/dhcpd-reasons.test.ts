/**
 * dhcpd -t's reasons reach the user (issue 9, item 6): with the real dhcpd, an error is reported
 * in the file and at the line where it is, so an admin's own mistake in dhcpd.conf is not blamed
 * on pxeroot's include, and the include's own lines are named as pxeroot's.
 */
import {promises as fs} from 'node:fs'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {INIT, pxeroot} from '../support/cli.js'
import {freshRootPerTest, snapshotTree} from '../support/tmp-root.js'

const tmp = freshRootPerTest()

interface DoctorCheck {check: string, status: string, message: string, fix?: string}
const dhcpdCheck = (root: string) => (JSON.parse(pxeroot(root, 'doctor', '--json').stdout).checks as DoctorCheck[]).find((c) => c.check === 'dhcpd config')!

describe('dhcpd rejects a configuration', () => {
  it('an error in the admin\'s own dhcpd.conf: one line naming that file, its line and the fix; nothing written', async () => {
    expect(pxeroot(tmp.dir, ...INIT).code).toBe(0)
    expect(pxeroot(tmp.dir, 'nodes', 'add', 'node01').code).toBe(0)
    const main = path.join(tmp.dir, 'etc/dhcp/dhcpd.conf')
    const lines = (await fs.readFile(main, 'utf8')).trimEnd().split('\n')
    await fs.writeFile(main, [...lines, 'garbage here;', ''].join('\n'))
    const bad = lines.length + 1
    const before = await snapshotTree(tmp.dir)

    const add = pxeroot(tmp.dir, 'nodes', 'add', 'node02')
    expect(add.code).toBe(1)
    expect(add.stderr.trim().split('\n')).toHaveLength(1)
    expect(add.stderr).toContain(`dhcpd rejects /etc/dhcp/dhcpd.conf line ${bad}: semicolon expected near "garbage here;"`)
    expect(add.stderr).toMatch(/your own file, not pxeroot's/)
    expect(add.stderr).not.toMatch(/generated/)
    expect(await snapshotTree(tmp.dir)).toEqual(before)

    expect(dhcpdCheck(tmp.dir)).toMatchObject({status: 'fail', message: expect.stringContaining(`/etc/dhcp/dhcpd.conf line ${bad}: semicolon expected`),
      fix: expect.stringContaining(`fix line ${bad} of /etc/dhcp/dhcpd.conf`)})
  })

  it('an error in pxeroot\'s include on disk: doctor names /etc/dhcp/pxeroot.conf and its line, and apply rewrites it', async () => {
    expect(pxeroot(tmp.dir, ...INIT).code).toBe(0)
    expect(pxeroot(tmp.dir, 'apply').code).toBe(0)
    const include = path.join(tmp.dir, 'etc/dhcp/pxeroot.conf')
    const lines = (await fs.readFile(include, 'utf8')).split('\n')
    const at = lines.findIndex((l) => l.includes('next-server'))
    lines[at] = lines[at].replace('next-server', 'next-sever')
    await fs.writeFile(include, lines.join('\n'))

    const check = dhcpdCheck(tmp.dir)
    expect(check.status).toBe('fail')
    expect(check.message).toMatch(new RegExp(`^dhcpd rejects pxeroot's /etc/dhcp/pxeroot\\.conf line ${at + 1}: .*next-sever`))
    expect(check.fix).toMatch(/pxeroot apply/)
    expect(pxeroot(tmp.dir, 'apply').code).toBe(0)
    expect(dhcpdCheck(tmp.dir).status).toBe('ok')
  })
})
