import {promises as fs} from 'node:fs'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {applyBootConfig} from '../../src/apply/apply.js'
import {checkLighttpd, LIGHTTPD_PATHS} from '../../src/backends/web/lighttpd.js'
import {parseSite} from '../../src/config/site-file.js'
import {PreconditionError, ValidationError} from '../../src/errors.js'
import {renderLighttpdDropIn} from '../../src/render/web/lighttpd.js'
import {execaRunner, type Runner} from '../../src/system/runner.js'
import {FIXTURES, freshRootPerTest, seedSite, snapshotTree, testContext} from '../support/tmp-root.js'

const tmp = freshRootPerTest()
const HTTP_SITE = async () => (await fs.readFile(path.join(FIXTURES, 'seed-site.yaml'), 'utf8')) + 'boot: {transport: http}\n'
const dropIn = async () => renderLighttpdDropIn(parseSite(await HTTP_SITE()))

/** Debian's own lighttpd.conf and enabled snippets (the package's, from this machine) under the test root. */
async function debianLighttpd(dir: string): Promise<void> {
  await fs.cp('/etc/lighttpd', path.join(dir, 'etc/lighttpd'), {recursive: true, dereference: false, verbatimSymlinks: true})
}

describe('lighttpd -tt on pxeroot\'s drop-in', () => {
  it('accepts the rendered drop-in alone and within Debian\'s lighttpd.conf and enabled snippets', async () => {
    const ctx = testContext(tmp.dir)
    await expect(checkLighttpd(ctx, await dropIn())).resolves.toBeUndefined()
    await debianLighttpd(tmp.dir)
    expect(await fs.readFile(path.join(tmp.dir, 'etc/lighttpd/lighttpd.conf'), 'utf8')).toContain('include "/etc/lighttpd/conf-enabled/*.conf"')
    await expect(checkLighttpd(ctx, await dropIn())).resolves.toBeUndefined()
  })

  it('refuses a broken drop-in with lighttpd\'s own reason, naming pxeroot\'s file and line, never the temp copy', async () => {
    const ctx = testContext(tmp.dir)
    const broken = (await dropIn()).replace('server.port := 80', 'server.port := 80 )')
    const error = await checkLighttpd(ctx, broken).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ValidationError)
    expect((error as Error).message).toMatch(/^lighttpd rejects the generated configuration: source: \/etc\/lighttpd\/conf-enabled\/99-pxeroot\.conf line: 5 pos: \d+ close-parens seen open-parens/)
    expect((error as Error).message).not.toMatch(/pxeroot-lighttpd-/)
    await expect(checkLighttpd(ctx, (await dropIn()).replace('server.port := 80', 'server.port := "eighty"'))).rejects.toThrow(/got a string but expected a short: server\.port eighty/)
  })
})

describe('apply with boot.transport http refuses what lighttpd would refuse or ignore, and writes nothing', () => {
  async function refused(edit: (dir: string) => Promise<void>, message: RegExp): Promise<void> {
    await seedSite(tmp.dir, {nodes: true, site: await HTTP_SITE()})
    await debianLighttpd(tmp.dir)
    await applyBootConfig(testContext(tmp.dir))
    await edit(tmp.dir)
    await fs.appendFile(path.join(tmp.dir, 'etc/pxeroot/nodes.yaml'), '  - name: node04\n    ip: 192.168.0.204\n')
    const before = await snapshotTree(tmp.dir)
    const error = await applyBootConfig(testContext(tmp.dir)).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ValidationError)
    expect((error as Error).message).toMatch(message)
    expect(await snapshotTree(tmp.dir)).toEqual(before)
  }

  it('an admin\'s snippet read after pxeroot\'s that sets the address again (lighttpd: duplicate)', async () => {
    await refused(async (dir) => {
      await fs.writeFile(path.join(dir, 'etc/lighttpd/conf-enabled/zz-admin.conf'), 'server.bind = "0.0.0.0"\n')
    }, /Duplicate config variable in conditional 0 global: server\.bind \| source: \/etc\/lighttpd\/conf-enabled\/zz-admin\.conf line: 2/)
  })

  it('a lighttpd.conf without mod_access, where the boot-network limit would be silently ignored', async () => {
    await refused(async (dir) => {
      const main = path.join(dir, 'etc/lighttpd/lighttpd.conf')
      await fs.writeFile(main, (await fs.readFile(main, 'utf8')).replace('"mod_access",', ''))
    }, /lighttpd would ignore url\.access-deny of \/etc\/lighttpd\/conf-enabled\/99-pxeroot\.conf/)
  })

  it('a lighttpd.conf that no longer reads conf-enabled, so the drop-in would never be seen', async () => {
    await refused(async (dir) => {
      const main = path.join(dir, 'etc/lighttpd/lighttpd.conf')
      await fs.writeFile(main, (await fs.readFile(main, 'utf8')).replace('include "/etc/lighttpd/conf-enabled/*.conf"', ''))
    }, /does not read \/etc\/lighttpd\/conf-enabled\/\*\.conf/)
  })
})

describe('apply with boot.transport http', () => {
  const tftp = (p: string) => path.join(tmp.dir, 'var/lib/tftpboot', p)

  it('writes iPXE byte-equal to the ipxe package, the scripts and the drop-in; no pxelinux; back to tftp takes them away again', async () => {
    await seedSite(tmp.dir, {nodes: true, site: await HTTP_SITE()})
    const first = await applyBootConfig(testContext(tmp.dir))
    const written = first.changes.map((c) => c.path)
    expect(written).toEqual(expect.arrayContaining([
      '/etc/default/tftpd-hpa', '/etc/dhcp/dhcpd.conf', '/etc/dhcp/pxeroot.conf', '/etc/exports.d/pxeroot.exports', LIGHTTPD_PATHS.dropIn,
      '/var/lib/tftpboot/ipxe/boot.ipxe', '/var/lib/tftpboot/ipxe/default.ipxe',
      '/var/lib/tftpboot/ipxe/nodes/01-52-54-00-ab-cd-ef.ipxe', '/var/lib/tftpboot/ipxe/nodes/192.168.0.201.ipxe', '/var/lib/tftpboot/ipxe/nodes/192.168.0.202.ipxe',
      '/var/lib/tftpboot/snponly.efi', '/var/lib/tftpboot/undionly.kpxe',
    ]))
    // iPXE takes pxelinux's place (UEFI loaders, where enabled, are another matter).
    expect(written.filter((p) => /pxelinux|ldlinux/.test(p))).toEqual([])
    for (const name of ['undionly.kpxe', 'snponly.efi']) {
      expect((await fs.readFile(tftp(name))).equals(await fs.readFile(`/usr/lib/ipxe/${name}`)), name).toBe(true)
      expect((await fs.stat(tftp(name))).mode & 0o777).toBe(0o644)
    }
    expect(await fs.readFile(tftp('ipxe/nodes/01-52-54-00-ab-cd-ef.ipxe'), 'utf8')).toContain('kernel http://192.168.0.10/pxeroot/debian-bookworm/current/vmlinuz initrd=initrd.img root=/dev/nfs nfsroot=192.168.0.10:/srv/nodes/node03,vers=3,tcp')
    expect(await fs.readFile(path.join(tmp.dir, 'etc/dhcp/pxeroot.conf'), 'utf8')).toContain('filename "http://192.168.0.10/ipxe/boot.ipxe";')
    expect((await applyBootConfig(testContext(tmp.dir))).changes).toEqual([])

    const site = path.join(tmp.dir, 'etc/pxeroot/pxeroot.yaml')
    await fs.writeFile(site, (await fs.readFile(site, 'utf8')).replace('boot: {transport: http}\n', ''))
    const back = await applyBootConfig(testContext(tmp.dir))
    expect(back.changes).toContainEqual({path: LIGHTTPD_PATHS.dropIn, action: 'delete'})
    expect(back.changes).toContainEqual({path: '/var/lib/tftpboot/undionly.kpxe', action: 'delete'})
    expect(back.changes).toContainEqual({path: '/var/lib/tftpboot/pxelinux.0', action: 'create'})
    expect((await fs.readdir(tftp('ipxe/nodes')))).toEqual([])
  })

  it('--dry-run shows the drop-in, the scripts and the iPXE binaries, and touches nothing', async () => {
    await seedSite(tmp.dir, {nodes: true, site: await HTTP_SITE()})
    const before = await snapshotTree(tmp.dir)
    const result = await applyBootConfig(testContext(tmp.dir), {dryRun: true})
    expect(result.diff).toContain('+++ b/etc/lighttpd/conf-enabled/99-pxeroot.conf\n')
    expect(result.diff).toContain('+$HTTP["remoteip"] != "192.168.0.0/24" { url.access-deny = ("") }\n')
    expect(result.diff).toContain('+++ b/var/lib/tftpboot/ipxe/nodes/192.168.0.201.ipxe\n')
    expect(result.diff).toContain('+imgexec node\n')
    expect(result.diff).toMatch(/^Binary file \/var\/lib\/tftpboot\/undionly\.kpxe: absent -> \d+ bytes$/m)
    expect(await snapshotTree(tmp.dir)).toEqual(before)
  })

  it('without lighttpd installed: a precondition error (exit 3) naming the package, nothing written', async () => {
    await seedSite(tmp.dir, {nodes: true, site: await HTTP_SITE()})
    const real = execaRunner()
    // This machine has lighttpd: the runner looks for it where there is none.
    const withoutLighttpd: Runner = {run: (command, args, options = {}) => real.run(command, args, command === 'lighttpd' ? {...options, env: {...options.env, PATH: '/var/empty'}} : options)}
    const before = await snapshotTree(tmp.dir)
    const error = await applyBootConfig(testContext(tmp.dir, withoutLighttpd), {dryRun: true}).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(PreconditionError)
    expect((error as PreconditionError).exitCode).toBe(3)
    expect((error as PreconditionError).message).toMatch(/lighttpd .*is not installed/)
    expect((error as PreconditionError).suggestion).toBe('apt-get install lighttpd')
    await expect(applyBootConfig(testContext(tmp.dir, withoutLighttpd))).rejects.toThrow(PreconditionError)
    expect(await snapshotTree(tmp.dir)).toEqual(before)
  })
})
