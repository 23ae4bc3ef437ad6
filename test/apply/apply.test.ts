import {promises as fs} from 'node:fs'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {applyBootConfig} from '../../src/apply/apply.js'
import {checkExports} from '../../src/backends/nfs/kernel.js'
import {hostFiles} from '../../src/system/files.js'
import {execaRunner} from '../../src/system/runner.js'
import {ValidationError} from '../../src/errors.js'
import {FIXTURES, seedSite, snapshotTree, testContext, freshRootPerTest} from '../support/tmp-root.js'

const tmp = freshRootPerTest()

const read = (p: string) => fs.readFile(path.join(tmp.dir, p), 'utf8')

describe('apply under a temporary root, with the real dhcpd -t and exportfs', () => {
  it('writes every boot file, world-readable, and a second apply changes nothing', async () => {
    await seedSite(tmp.dir, {nodes: true})
    const first = await applyBootConfig(testContext(tmp.dir))
    expect(first.changes.map((c) => c.path).sort()).toEqual([
      '/etc/default/tftpd-hpa', '/etc/dhcp/dhcpd.conf', '/etc/dhcp/pxeroot.conf', '/etc/exports.d/pxeroot.exports',
      // boot.firmware defaults to both: shim + GRUB for UEFI machines beside pxelinux (uefi.test.ts).
      '/var/lib/tftpboot/bootx64.efi', '/var/lib/tftpboot/grub/grub.cfg', '/var/lib/tftpboot/grub/nodes/01-52-54-00-ab-cd-ef.cfg',
      '/var/lib/tftpboot/grub/nodes/C0A800C9.cfg', '/var/lib/tftpboot/grub/nodes/C0A800CA.cfg', '/var/lib/tftpboot/grubx64.efi',
      '/var/lib/tftpboot/ldlinux.c32', '/var/lib/tftpboot/pxelinux.0',
      '/var/lib/tftpboot/pxelinux.cfg/01-52-54-00-ab-cd-ef', '/var/lib/tftpboot/pxelinux.cfg/C0A800C9',
      '/var/lib/tftpboot/pxelinux.cfg/C0A800CA', '/var/lib/tftpboot/pxelinux.cfg/default',
    ])
    expect(first.reloadSkipped).toMatch(/not the host's root/)
    expect(await read('etc/dhcp/dhcpd.conf')).toContain('include "/etc/dhcp/pxeroot.conf";')
    const pxelinux0 = await fs.stat(path.join(tmp.dir, 'var/lib/tftpboot/pxelinux.0'))
    expect(pxelinux0.mode & 0o777).toBe(0o644)
    expect((await fs.readFile(path.join(tmp.dir, 'var/lib/tftpboot/pxelinux.0'))).equals(await fs.readFile('/usr/lib/PXELINUX/pxelinux.0'))).toBe(true)
    const second = await applyBootConfig(testContext(tmp.dir))
    expect(second.changes).toEqual([])
  })

  it('deletes the hidden temp files a killed run left beside the files it owns, and nothing else', async () => {
    await seedSite(tmp.dir, {nodes: true})
    await applyBootConfig(testContext(tmp.dir))
    // What a kill between writing and renaming leaves (see tempNameFor), beside an admin's look-alike.
    const left = ['etc/exports.d/.pxeroot.exports.pxeroot-0badf00d', 'var/lib/tftpboot/pxelinux.cfg/.C0A800C9.pxeroot-12345678', 'var/lib/pxeroot/.exported-roots.json.pxeroot-0000abcd']
    const theirs = ['etc/exports.d/.other.exports.pxeroot-0badf00d', 'var/lib/tftpboot/pxelinux.cfg/.C0A800C9.swp']
    for (const p of [...left, ...theirs]) await fs.writeFile(path.join(tmp.dir, p), 'half')
    const again = await applyBootConfig(testContext(tmp.dir))
    expect(again.changes).toEqual([])
    for (const p of left) await expect(fs.access(path.join(tmp.dir, p))).rejects.toThrow()
    for (const p of theirs) expect(await read(p)).toBe('half')
  })

  it('keeps the admin\'s own dhcpd.conf and adds the include line once', async () => {
    await seedSite(tmp.dir, {nodes: true})
    await fs.mkdir(path.join(tmp.dir, 'etc/dhcp'), {recursive: true})
    const own = 'ddns-update-style none;\noption domain-name "lab.example";\nauthoritative;\n'
    await fs.writeFile(path.join(tmp.dir, 'etc/dhcp/dhcpd.conf'), own, {mode: 0o640})
    await applyBootConfig(testContext(tmp.dir))
    await applyBootConfig(testContext(tmp.dir))
    expect(await read('etc/dhcp/dhcpd.conf')).toBe(`${own}include "/etc/dhcp/pxeroot.conf";\n`)
    expect((await fs.stat(path.join(tmp.dir, 'etc/dhcp/dhcpd.conf'))).mode & 0o777).toBe(0o640)
  })

  it('with the NFS-Ganesha backend: owned EXPORT blocks and one %include line, no kernel exports file', async () => {
    const site = (await fs.readFile(path.join(FIXTURES, 'seed-site.yaml'), 'utf8')) + 'backends: {nfs: ganesha}\n'
    await seedSite(tmp.dir, {nodes: true, site})
    const result = await applyBootConfig(testContext(tmp.dir))
    const paths = result.changes.map((c) => c.path)
    expect(paths).toContain('/etc/ganesha/pxeroot.conf')
    expect(paths).not.toContain('/etc/exports.d/pxeroot.exports')
    expect(await read('etc/ganesha/ganesha.conf')).toMatch(/Graceless = true;[\s\S]*%include "\/etc\/ganesha\/pxeroot.conf"\n$/)
    expect(await read('etc/ganesha/pxeroot.conf')).toContain('CLIENT { Clients = 192.168.0.201; Access_Type = RW; Squash = No_Root_Squash; }')
    // Back to the kernel server: the Ganesha file pxeroot owned goes, the admin's ganesha.conf stays.
    await fs.writeFile(path.join(tmp.dir, 'etc/pxeroot/pxeroot.yaml'), site.replace('backends: {nfs: ganesha}\n', ''))
    const back = await applyBootConfig(testContext(tmp.dir))
    expect(back.changes).toContainEqual({path: '/etc/ganesha/pxeroot.conf', action: 'delete'})
    expect(await read('etc/ganesha/ganesha.conf')).toContain('%include')
  })

  it('--dry-run prints a diff and touches nothing', async () => {
    await seedSite(tmp.dir, {nodes: true})
    const before = await snapshotTree(tmp.dir)
    const result = await applyBootConfig(testContext(tmp.dir), {dryRun: true})
    expect(result.diff).toContain('+++ b/etc/dhcp/pxeroot.conf')
    expect(result.diff).toContain('+host node03 { hardware ethernet 52:54:00:ab:cd:ef; fixed-address 192.168.0.203;')
    expect(await snapshotTree(tmp.dir)).toEqual(before)
  })

  it('removes the boot files of a node that is gone, and never writes a shortened hex file', async () => {
    await seedSite(tmp.dir, {nodes: true})
    await applyBootConfig(testContext(tmp.dir))
    const inventory = path.join(tmp.dir, 'etc/pxeroot/nodes.yaml')
    await fs.writeFile(inventory, (await fs.readFile(inventory, 'utf8')).replace(/  - name: node01\n    ip: 192.168.0.201\n/, ''))
    const result = await applyBootConfig(testContext(tmp.dir))
    expect(result.changes).toContainEqual({path: '/var/lib/tftpboot/pxelinux.cfg/C0A800C9', action: 'delete'})
    const files = await fs.readdir(path.join(tmp.dir, 'var/lib/tftpboot/pxelinux.cfg'))
    expect(files.sort()).toEqual(['01-52-54-00-ab-cd-ef', 'C0A800CA', 'default'])
    expect(await read('etc/exports.d/pxeroot.exports')).not.toContain('node01')
  })

  it('a candidate dhcpd rejects changes nothing: the live files stay byte-identical', async () => {
    await seedSite(tmp.dir, {nodes: true})
    await applyBootConfig(testContext(tmp.dir))
    // The admin's part of dhcpd.conf is broken by hand (a missing ";").
    const main = path.join(tmp.dir, 'etc/dhcp/dhcpd.conf')
    await fs.writeFile(main, (await fs.readFile(main, 'utf8')).replace('authoritative;', 'authoritative'))
    const inventory = path.join(tmp.dir, 'etc/pxeroot/nodes.yaml')
    await fs.appendFile(inventory, '  - name: node04\n    ip: 192.168.0.204\n    mac: 52:54:00:00:00:04\n')
    const before = await snapshotTree(tmp.dir)
    await expect(applyBootConfig(testContext(tmp.dir))).rejects.toThrow(ValidationError)
    // ... and the reason names the admin's file and line, not pxeroot's output.
    await expect(applyBootConfig(testContext(tmp.dir))).rejects.toThrow(/dhcpd rejects \/etc\/dhcp\/dhcpd\.conf line \d+: .*your own file, not pxeroot's/)
    expect(await snapshotTree(tmp.dir)).toEqual(before)
  })
})

describe('the real exportfs', () => {
  it('exportfs itself catches what would export to the world or stop at a bad line', async () => {
    const runner = execaRunner()
    await expect(checkExports({runner, files: hostFiles, signal: new AbortController().signal}, '/srv/nodes/node01 192.168.0.201(rw,sync,no_subtree_check)\n')).resolves.toBeUndefined()
    await expect(checkExports({runner, files: hostFiles, signal: new AbortController().signal}, '/srv/nodes/node01 192.168.0.201 (rw,sync,no_subtree_check)\n')).rejects.toThrow(/world/)
    await expect(checkExports({runner, files: hostFiles, signal: new AbortController().signal}, '/srv/nodes/node01 192.168.0.201(rw,bogus)\n')).rejects.toThrow(/unknown keyword "bogus"/)
  })
})
