import {spawnSync} from 'node:child_process'
import {promises as fs} from 'node:fs'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {applyBootConfig} from '../../src/apply/apply.js'
import NodesRm from '../../src/commands/nodes/rm.js'
import {PreconditionError, UserError} from '../../src/errors.js'
import {runCommand} from '../support/run-command.js'
import {FIXTURES, freshRootPerTest, seedSite, snapshotTree, testContext} from '../support/tmp-root.js'

const tmp = freshRootPerTest()
const TFTP = 'var/lib/tftpboot'
const SHIM = '/usr/lib/shim/shimx64.efi.signed'
const GRUB = '/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed'
const GRUB_FILES = ['grub/grub.cfg', 'grub/nodes/01-52-54-00-ab-cd-ef.cfg', 'grub/nodes/C0A800C9.cfg', 'grub/nodes/C0A800CA.cfg']

const tftp = (rel: string) => path.join(tmp.dir, TFTP, rel)
const siteWith = async (extra: string) => (await fs.readFile(path.join(FIXTURES, 'seed-site.yaml'), 'utf8')) + extra
const writeSite = async (text: string) => fs.writeFile(path.join(tmp.dir, 'etc/pxeroot/pxeroot.yaml'), text)
const listGrub = async () => (await fs.readdir(tftp('grub'), {recursive: true}).catch(() => [] as string[])).filter((f) => f.endsWith('.cfg')).sort()

describe('UEFI boot files: apply under a temporary root, with the packages\' real shim and GRUB', () => {
  it('copies shim as bootx64.efi and the signed netboot GRUB as grubx64.efi byte for byte, 0644, beside grub.cfg and one file per node', async () => {
    await seedSite(tmp.dir, {nodes: true})
    await applyBootConfig(testContext(tmp.dir))
    for (const [name, from] of [['bootx64.efi', SHIM], ['grubx64.efi', GRUB]]) {
      expect((await fs.readFile(tftp(name))).equals(await fs.readFile(from)), name).toBe(true)
      const st = await fs.lstat(tftp(name))
      expect(st.isFile() && (st.mode & 0o777) === 0o644, `${name} is a world-readable copy, not a link`).toBe(true)
    }
    expect((await listGrub()).map((f) => `grub/${f}`)).toEqual(GRUB_FILES)
    for (const f of GRUB_FILES) expect((await fs.stat(tftp(f))).mode & 0o777).toBe(0o644)
    // The MAC-bound node's file and the address-bound node's carry the kernel, initrd and root of each.
    expect(await fs.readFile(tftp('grub/nodes/01-52-54-00-ab-cd-ef.cfg'), 'utf8')).toMatch(/^ {2}linux \/pxeroot\/debian-bookworm\/current\/vmlinuz root=\/dev\/nfs nfsroot=192\.168\.0\.10:\/srv\/nodes\/node03,vers=3,tcp ip=dhcp rw BOOTIF=\$\{pxeroot_bootif\}$/m)
    expect(await fs.readFile(tftp('grub/nodes/C0A800CA.cfg'), 'utf8')).toMatch(/^ {2}initrd \/pxeroot\/debian-bookworm\/3\/initrd\.img$/m)
    // dhcpd -t accepted the include that hands UEFI x64 clients shim.
    expect(await fs.readFile(path.join(tmp.dir, 'etc/dhcp/pxeroot.conf'), 'utf8')).toContain('filename "bootx64.efi";')
    expect(JSON.parse(await fs.readFile(path.join(tmp.dir, 'var/lib/pxeroot/owned.json'), 'utf8')).files).toEqual(expect.arrayContaining(
      ['/var/lib/tftpboot/bootx64.efi', '/var/lib/tftpboot/grubx64.efi', ...GRUB_FILES.map((f) => `/var/lib/tftpboot/${f}`)]))
    expect((await applyBootConfig(testContext(tmp.dir))).changes).toEqual([])
  })

  it('--dry-run lists the GRUB files and writes nothing', async () => {
    await seedSite(tmp.dir, {nodes: true})
    const before = await snapshotTree(tmp.dir)
    const result = await applyBootConfig(testContext(tmp.dir), {dryRun: true})
    expect(result.changes.map((c) => c.path)).toEqual(expect.arrayContaining(
      ['/var/lib/tftpboot/bootx64.efi', '/var/lib/tftpboot/grubx64.efi', ...GRUB_FILES.map((f) => `/var/lib/tftpboot/${f}`)]))
    expect(result.diff).toContain(`Binary file /var/lib/tftpboot/bootx64.efi: absent -> ${(await fs.stat(SHIM)).size} bytes`)
    expect(result.diff).toContain('+++ b/var/lib/tftpboot/grub/nodes/01-52-54-00-ab-cd-ef.cfg')
    expect(result.diff).toContain('+source "$prefix/nodes/${pxeroot_bootif}.cfg"')
    expect(await snapshotTree(tmp.dir)).toEqual(before)
  })

  it('nodes rm takes the node\'s GRUB file away with its pxelinux file', async () => {
    await seedSite(tmp.dir, {nodes: true})
    await applyBootConfig(testContext(tmp.dir))
    const rm = await runCommand(NodesRm, ['node01', '--root', tmp.dir])
    expect(rm.code).toBe(0)
    expect(await listGrub()).toEqual(['grub.cfg', 'nodes/01-52-54-00-ab-cd-ef.cfg', 'nodes/C0A800CA.cfg'])
    await expect(fs.stat(tftp('pxelinux.cfg/C0A800C9'))).rejects.toThrow(/ENOENT/)
  })

  it('boot.firmware: [bios] writes no GRUB file, removes those written before and hands UEFI clients no file; [bios, uefi] brings them back', async () => {
    await seedSite(tmp.dir, {nodes: true})
    await applyBootConfig(testContext(tmp.dir))
    await writeSite(await siteWith('boot: {firmware: [bios]}\n'))
    const off = await applyBootConfig(testContext(tmp.dir))
    expect(off.changes.filter((c) => c.action === 'delete').map((c) => c.path).sort()).toEqual(
      ['/var/lib/tftpboot/bootx64.efi', ...GRUB_FILES.map((f) => `/var/lib/tftpboot/${f}`), '/var/lib/tftpboot/grubx64.efi'].sort())
    expect(await listGrub()).toEqual([])
    await expect(fs.stat(tftp('bootx64.efi'))).rejects.toThrow(/ENOENT/)
    expect(await fs.readFile(path.join(tmp.dir, 'etc/dhcp/pxeroot.conf'), 'utf8')).not.toContain('bootx64.efi')
    expect(await fs.readFile(tftp('pxelinux.0'))).toBeTruthy()
    await writeSite(await siteWith('boot: {firmware: [bios, uefi]}\n'))
    await applyBootConfig(testContext(tmp.dir))
    expect(await listGrub()).toHaveLength(GRUB_FILES.length)
  })

  it('boot.firmware: [bios] on a fresh server writes no GRUB file at all', async () => {
    await seedSite(tmp.dir, {nodes: true, site: await siteWith('boot: {firmware: [bios]}\n')})
    const result = await applyBootConfig(testContext(tmp.dir))
    expect(result.changes.map((c) => c.path).filter((p) => /grub|\.efi$/.test(p))).toEqual([])
    expect(await listGrub()).toEqual([])
  })

  it('a hand-made file in the tftp root survives every apply; one where pxeroot would write is refused (exit 3), nothing changed', async () => {
    await seedSite(tmp.dir, {nodes: true})
    const own = {'grub/local.cfg': 'menuentry memtest {}\n', 'grub/nodes/99-custom.cfg': 'set x=1\n', 'memtest.efi': 'MZ hand-made', 'pxelinux.cfg/01-aa-bb-cc-dd-ee-ff': 'DEFAULT other\n'}
    for (const [rel, text] of Object.entries(own)) {
      await fs.mkdir(path.dirname(tftp(rel)), {recursive: true})
      await fs.writeFile(tftp(rel), text)
    }
    await applyBootConfig(testContext(tmp.dir))
    await runCommand(NodesRm, ['node01', '--root', tmp.dir])
    await writeSite(await siteWith('boot: {firmware: [bios]}\n'))
    await applyBootConfig(testContext(tmp.dir))
    for (const [rel, text] of Object.entries(own)) expect(await fs.readFile(tftp(rel), 'utf8')).toBe(text)

    // A server that already netboots UEFI with its own grub.cfg: pxeroot will not replace it.
    await writeSite(await siteWith(''))
    await fs.writeFile(tftp('grub/grub.cfg'), 'configfile /grub/site.cfg\n')
    const before = await snapshotTree(tmp.dir)
    const error = await applyBootConfig(testContext(tmp.dir)).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(PreconditionError)
    expect((error as Error).message).toBe('/var/lib/tftpboot/grub/grub.cfg exists and pxeroot did not write it; nothing was changed')
    expect(await snapshotTree(tmp.dir)).toEqual(before)
  })
})

describe('kernel arguments GRUB would change on their way to the kernel', () => {
  it('are refused (exit 2) naming the node and the argument, nothing changed; BIOS-only sites take them as before', async () => {
    await seedSite(tmp.dir, {nodes: true, site: await siteWith('boot: {kernelArgs: "msg=it\'s"}\n')})
    const before = await snapshotTree(tmp.dir)
    const error = await applyBootConfig(testContext(tmp.dir)).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(UserError)
    expect((error as Error).message).toMatch(/^node01: the kernel argument msg=it's would reach the kernel changed through GRUB/)
    expect(await snapshotTree(tmp.dir)).toEqual(before)
    await writeSite(await siteWith('boot: {kernelArgs: "msg=it\'s", firmware: [bios]}\n'))
    await applyBootConfig(testContext(tmp.dir))
    expect(await fs.readFile(tftp('pxelinux.cfg/C0A800C9'), 'utf8')).toContain(' msg=it\'s\n')
  })
})

describe('a UEFI package missing on the server', () => {
  it('makes apply exit 3 naming shim-signed and how to turn UEFI off, and changes nothing', async () => {
    await seedSite(tmp.dir, {nodes: true})
    const before = await snapshotTree(tmp.dir)
    // The apply command from the sources, in a private mount namespace where /usr/lib/shim is an empty directory.
    const project = path.resolve(import.meta.dirname, '../..')
    const apply = `const {default: Apply} = await import('./src/commands/apply.ts'); await Apply.run([], process.cwd()).catch((e) => process.exit(e.oclif?.exit ?? 1))`
    const r = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', 'mount -t tmpfs none /usr/lib/shim && exec "$@"', 'sh',
      process.execPath, '--import', 'tsx', '--input-type=module', '-e', apply], {cwd: project, env: {...process.env, PXEROOT_ROOT: tmp.dir}, encoding: 'utf8', timeout: 120_000})
    expect(r.stderr).toContain('pxeroot: bootx64.efi for shim + GRUB (UEFI) comes from the package shim-signed, which is not installed')
    expect(r.stderr).toContain('(apt-get install shim-signed, or leave uefi out of boot.firmware in /etc/pxeroot/pxeroot.yaml)')
    expect(r.status).toBe(3)
    expect(await snapshotTree(tmp.dir)).toEqual(before)
  })
})
