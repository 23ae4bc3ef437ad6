/**
 * Refusals as a user meets them on the command line (issue 9, items 7–11): one line naming the
 * field or file and the fix, the documented exit code, and nothing changed on disk.
 */
import {promises as fs} from 'node:fs'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {INIT, pxeroot} from '../support/cli.js'
import {freshRootPerTest, snapshotTree} from '../support/tmp-root.js'

const tmp = freshRootPerTest()

interface DoctorCheck {check: string, status: string, message: string, fix?: string}
const oneLine = (text: string) => expect(text.trim().split('\n')).toHaveLength(1)

describe('a hand-edited inventory', () => {
  it('a name twice: every command that reads nodes.yaml exits 2 naming the file, both entries and the fix; doctor fails its inventory check', async () => {
    expect(pxeroot(tmp.dir, ...INIT).code).toBe(0)
    expect(pxeroot(tmp.dir, 'nodes', 'add', 'node01').code).toBe(0)
    await fs.appendFile(path.join(tmp.dir, 'etc/pxeroot/nodes.yaml'), '  - name: node01\n    ip: 192.168.0.205\n')
    const before = await snapshotTree(tmp.dir)
    // The lines of the two entries, as an editor shows them (1-based).
    const lines = (await fs.readFile(path.join(tmp.dir, 'etc/pxeroot/nodes.yaml'), 'utf8')).split('\n')
    const [first, second] = lines.flatMap((l, i) => (l === '  - name: node01' ? [i + 1] : []))
    for (const argv of [['nodes', 'list'], ['apply', '--dry-run'], ['nodes', 'add', 'node02'], ['nodes', 'rm', 'node01']]) {
      const r = pxeroot(tmp.dir, ...argv)
      expect(r.code, argv.join(' ')).toBe(2)
      oneLine(r.stderr)
      expect(r.stderr).toMatch(new RegExp(`^pxeroot: /etc/pxeroot/nodes\\.yaml: node "node01" \\(line ${second}\\): name node01 is already used by node "node01" \\(line ${first}\\); .*rename or remove one of them`))
    }
    expect(await snapshotTree(tmp.dir)).toEqual(before)

    const doctor = pxeroot(tmp.dir, 'doctor', '--json')
    expect(doctor.code).toBe(1)
    const checks = JSON.parse(doctor.stdout).checks as DoctorCheck[]
    expect(checks.find((c) => c.check === 'inventory')).toMatchObject({status: 'fail', message: expect.stringMatching(new RegExp(`nodes\\.yaml: node "node01" \\(line ${second}\\)`))})
    expect(checks.find((c) => c.check === 'node roots')).toMatchObject({status: 'skip'})
    expect(checks.find((c) => c.check === 'dhcpd config')).toMatchObject({status: 'ok'})
  })

  it('a misspelled key (mca:) is refused with a "did you mean", not read as an address-bound node', async () => {
    expect(pxeroot(tmp.dir, ...INIT).code).toBe(0)
    await fs.writeFile(path.join(tmp.dir, 'etc/pxeroot/nodes.yaml'), 'nodes:\n  - name: node07\n    ip: 192.168.0.207\n    mca: 52:54:00:00:00:07\n')
    const list = pxeroot(tmp.dir, 'nodes', 'list', '--json')
    expect(list.code).toBe(2)
    expect(JSON.parse(list.stdout).error).toMatchObject({code: 2, kind: 'UserError', message: '/etc/pxeroot/nodes.yaml: line 4: nodes.0: unknown field mca; did you mean mac?'})
  })

  it('doctor flags an inventory the site no longer fits (an address outside a changed subnet)', async () => {
    expect(pxeroot(tmp.dir, ...INIT).code).toBe(0)
    expect(pxeroot(tmp.dir, 'nodes', 'add', 'node01').code).toBe(0)
    const site = path.join(tmp.dir, 'etc/pxeroot/pxeroot.yaml')
    await fs.writeFile(site, (await fs.readFile(site, 'utf8')).replaceAll('192.168.0.', '192.168.1.'))
    const checks = JSON.parse(pxeroot(tmp.dir, 'doctor', '--json').stdout).checks as DoctorCheck[]
    expect(checks.find((c) => c.check === 'inventory')).toMatchObject({status: 'fail', message: expect.stringMatching(/node "node01": ip 192\.168\.0\.200 is outside subnet 192\.168\.1\.0\/24/)})
  })
})

describe('nothing changed on disk', () => {
  it('apply --dry-run and nodes add --dry-run on a fresh root create nothing (not even /etc/dhcp)', async () => {
    expect(pxeroot(tmp.dir, ...INIT).code).toBe(0)
    const before = await snapshotTree(tmp.dir)
    const dry = pxeroot(tmp.dir, 'apply', '--dry-run')
    expect(dry.code).toBe(0)
    expect(dry.stdout).toContain('+++ b/etc/dhcp/pxeroot.conf')
    expect(pxeroot(tmp.dir, 'nodes', 'add', 'node01', '--dry-run').code).toBe(0)
    expect(await snapshotTree(tmp.dir)).toEqual(before)
  })

  it('a refused command on a fresh root leaves no /var/lib/pxeroot (or anything else) behind', async () => {
    expect(pxeroot(tmp.dir, ...INIT).code).toBe(0)
    const before = await snapshotTree(tmp.dir)
    const refused: [string[], number, RegExp][] = [
      [['nodes', 'add', 'node01', '--mac', 'ff:ff:ff:ff:ff:ff'], 2, /--mac: ff:ff:ff:ff:ff:ff is a broadcast address/],
      [['nodes', 'set', 'node09', '--ip', '192.168.0.209'], 2, /no node named node09/],
      [['nodes', 'rm', 'node09'], 2, /no node named node09/],
      [['nodes', 'rollback', 'node09'], 2, /node09 is not in the inventory/],
      [['nodes', 'rebase', 'node09', '--image', 'lab@1'], 2, /there is no revision lab@1/],
      [['image', 'rm', 'lab@1'], 2, /lab@1 does not exist/],
    ]
    for (const [argv, code, message] of refused) {
      const r = pxeroot(tmp.dir, ...argv)
      expect([r.code, r.stderr], argv.join(' ')).toEqual([code, expect.stringMatching(message)])
      oneLine(r.stderr)
      expect(await snapshotTree(tmp.dir), argv.join(' ')).toEqual(before)
    }
  })

  it('a damaged owned.json: exit 3, one line naming the file and the fix, nothing changed', async () => {
    expect(pxeroot(tmp.dir, ...INIT).code).toBe(0)
    expect(pxeroot(tmp.dir, 'nodes', 'add', 'node01').code).toBe(0)
    await fs.writeFile(path.join(tmp.dir, 'var/lib/pxeroot/owned.json'), '{"files": ["/etc/dhcp/pxeroot.conf",')
    await fs.rm(path.join(tmp.dir, 'var/lib/tftpboot/pxelinux.cfg/default'))
    const before = await snapshotTree(tmp.dir)
    const apply = pxeroot(tmp.dir, 'apply')
    expect(apply.code).toBe(3)
    oneLine(apply.stderr)
    expect(apply.stderr).toMatch(/^pxeroot: \/var\/lib\/pxeroot\/owned\.json is damaged .*nothing was changed \(restore it from a backup, or remove it and run "pxeroot apply"/)
    expect(await snapshotTree(tmp.dir)).toEqual(before)
  })
})

describe('argv the commands do not know', () => {
  it('an unknown flag: exit 2 with one line, or under --json one small error object on stdout', async () => {
    const json = pxeroot(tmp.dir, 'nodes', 'list', '--json', '--sizs')
    expect(json.code).toBe(2)
    expect(json.stdout.length).toBeLessThan(400)
    expect(JSON.parse(json.stdout)).toEqual({error: {code: 2, kind: 'UserError', message: 'unknown flag --sizs; did you mean --sizes?', suggestion: 'see "pxeroot nodes list --help"'}})
    expect(json.stderr).toBe('')

    const plain = pxeroot(tmp.dir, 'nodes', 'list', '--bogus')
    expect(plain.code).toBe(2)
    expect(plain.stderr).toBe('pxeroot: unknown flag --bogus (see "pxeroot nodes list --help")\n')

    const missing = pxeroot(tmp.dir, 'nodes', 'add', '--json')
    expect(missing.code).toBe(2)
    expect(JSON.parse(missing.stdout).error).toMatchObject({code: 2, message: expect.stringMatching(/^missing argument NAME: node name/)})
    const extra = pxeroot(tmp.dir, 'nodes', 'add', 'node01', 'node02')
    expect([extra.code, extra.stderr]).toEqual([2, 'pxeroot: unexpected argument node02 (see "pxeroot nodes add --help")\n'])
  })

  it('an unknown command exits 2 with one line and a "did you mean"', async () => {
    const typo = pxeroot(tmp.dir, 'nodes', 'lsit')
    expect(typo.code).toBe(2)
    expect(typo.stderr).toBe('pxeroot: unknown command "nodes lsit"; did you mean "nodes list"? (see "pxeroot --help")\n')
    const none = pxeroot(tmp.dir, 'frobnicate', '--now')
    expect([none.code, none.stderr]).toEqual([2, 'pxeroot: unknown command "frobnicate" (see "pxeroot --help")\n'])
    // With spaces between topic and command, "apply now" reads as a command "apply now".
    const extra = pxeroot(tmp.dir, 'apply', 'now')
    expect([extra.code, extra.stderr]).toEqual([2, 'pxeroot: unexpected argument now (see "pxeroot apply --help")\n'])
    const json = pxeroot(tmp.dir, 'frobnicate', '--json')
    expect(json.code).toBe(2)
    expect(JSON.parse(json.stdout)).toEqual({error: {code: 2, kind: 'UserError', message: 'unknown command "frobnicate"', suggestion: 'see "pxeroot --help"'}})
    expect(await fs.readdir(tmp.dir)).toEqual([])
  })
})
