import {promises as fs} from 'node:fs'
import path from 'node:path'

import {execa} from 'execa'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import ImageExport from '../../src/commands/image/export.js'
import ImageImport from '../../src/commands/image/import.js'
import {seedSite, tmpRoot} from '../support/tmp-root.js'
import {runCommand} from '../support/run-command.js'
import {KERNEL, makeSyntheticRevision, treeFacts} from './synthetic.js'

const IMAGES = 'srv/pxeroot/images'
const TFTP = 'var/lib/tftpboot'

describe('image export → image import', () => {
  let dir: string
  let cleanup: () => Promise<void>
  let archive: string
  let acl = false

  beforeAll(async () => {
    ;({dir, cleanup} = await tmpRoot('pxeroot-archive-'))
    await seedSite(dir)
    const rev = path.join(dir, IMAGES, 'lab/3')
    ;({acl} = await makeSyntheticRevision(rev, 'lab', 3))
    await fs.symlink('3', path.join(dir, IMAGES, 'lab/current'))
    archive = path.join(dir, 'lab-3.tar.zst')
    const out = await runCommand(ImageExport, ['lab@3', archive, '--root', dir])
    expect(out.error?.message).toBeUndefined()
  })

  afterAll(async () => {
    await cleanup?.()
  })

  it('writes a zstd tar with manifest.json first and nothing but rootfs/ after it', async () => {
    const {stdout} = await execa('tar', ['--zstd', '-tf', archive])
    const names = stdout.split('\n')
    expect(names[0]).toBe('manifest.json')
    expect(names.slice(1).every((n) => n === 'rootfs/' || n.startsWith('rootfs/'))).toBe(true)
    expect(names).toContain('rootfs/dev/null')
    // No temporary archive left next to it.
    expect((await fs.readdir(dir)).filter((n) => n.includes('lab-3.tar.zst'))).toEqual(['lab-3.tar.zst'])
  })

  it('refuses to overwrite an existing archive without --force', async () => {
    const before = await fs.stat(archive)
    const out = await runCommand(ImageExport, ['lab@3', archive, '--root', dir])
    expect(out.code).toBe(2)
    expect(out.error?.message).toMatch(/already exists/)
    expect((await fs.stat(archive)).mtimeMs).toBe(before.mtimeMs)
  })

  it('imports as the first revision of a new image, identical to the original tree', async () => {
    const out = await runCommand(ImageImport, [archive, '--name', 'lab2', '--root', dir])
    expect(out.error?.message).toBeUndefined()
    expect(out.result).toMatchObject({revision: 'lab2@1', from: 'lab@3', kernel: KERNEL})
    const a = path.join(dir, IMAGES, 'lab/3/rootfs')
    const b = path.join(dir, IMAGES, 'lab2/1/rootfs')

    // rsync itemizes any difference in content, owner, mode, times, hard links, ACLs or xattrs.
    const rsync = await execa('rsync', ['-ainHAX', '--numeric-ids', '--delete', '--dry-run', `${a}/`, `${b}/`])
    expect(rsync.stdout.trim()).toBe('')
    expect(await treeFacts(b)).toEqual(await treeFacts(a))

    const cap = async (root: string) => (await execa('getcap', [path.join(root, 'usr/bin/ping')])).stdout.replace(root, '')
    expect(await cap(b)).toMatch(/cap_net_raw[=+]ep/)
    expect(await cap(b)).toBe(await cap(a))
    const xattr = await execa('getfattr', ['--only-values', '-n', 'user.pxeroot.note', path.join(b, 'etc/passwd')])
    expect(xattr.stdout).toBe('kept')
    if (acl) {
      const facl = async (root: string) => (await execa('getfacl', ['-cpn', path.join(root, 'var/lib/x')])).stdout
      expect(await facl(b)).toContain('user:1000:rwx')
      expect(await facl(b)).toContain('default:group:54321:r-x')
      expect(await facl(b)).toBe(await facl(a))
    }
    const dev = await fs.lstat(path.join(b, 'dev/null'))
    expect(dev.isCharacterDevice()).toBe(true)
    expect((await fs.lstat(path.join(b, 'dev/initctl'))).isFIFO()).toBe(true)
    const notes = await fs.lstat(path.join(b, 'home/user/notes'))
    expect([notes.uid, notes.gid, notes.mode & 0o7777]).toEqual([12345, 54321, 0o600])
    expect((await fs.lstat(path.join(b, 'usr/bin/su'))).mode & 0o7777).toBe(0o4755)
    const [perl, perl5] = await Promise.all([fs.lstat(path.join(b, 'usr/bin/perl')), fs.lstat(path.join(b, 'usr/bin/perl5.36'))])
    expect(perl.ino).toBe(perl5.ino)
  })

  it('records the import in the new revision and publishes its kernel and initrd world-readable', async () => {
    const manifest = JSON.parse(await fs.readFile(path.join(dir, IMAGES, 'lab2/1/manifest.json'), 'utf8'))
    expect(manifest).toMatchObject({image: 'lab2', revision: 1, origin: 'import', kernel: KERNEL, importedFrom: {image: 'lab', revision: 3}})
    expect(manifest.packages).toHaveLength(2)
    expect(await fs.readlink(path.join(dir, IMAGES, 'lab2/current'))).toBe('1')
    for (const [file, bytes] of [['vmlinuz', 'kernel bytes\n'], ['initrd.img', 'initrd bytes\n']]) {
      const p = path.join(dir, TFTP, 'pxeroot/lab2/1', file)
      expect((await fs.stat(p)).mode & 0o777).toBe(0o644)
      expect(await fs.readFile(p, 'utf8')).toBe(bytes)
    }
    // No staging tree left behind; the revision counter is the only other entry.
    expect((await fs.readdir(path.join(dir, IMAGES, 'lab2'))).sort()).toEqual(['.last-revision', '1', 'current'])
  })

  it('without --name adds the next revision of the exported image and makes it current', async () => {
    const out = await runCommand(ImageImport, [archive, '--root', dir, '--json'])
    expect(out.result).toMatchObject({revision: 'lab@4', from: 'lab@3'})
    expect(await fs.readlink(path.join(dir, IMAGES, 'lab/current'))).toBe('4')
    expect(await fs.stat(path.join(dir, TFTP, 'pxeroot/lab/4/vmlinuz'))).toBeTruthy()
  })

  it('exports NAME as its current revision', async () => {
    const second = path.join(dir, 'lab-current.tar.zst')
    const out = await runCommand(ImageExport, ['lab', second, '--root', dir, '--json'])
    expect(out.result).toMatchObject({revision: 'lab@4'})
  })

  it('refuses a revision that does not exist, writing nothing', async () => {
    const out = await runCommand(ImageExport, ['lab@9', path.join(dir, 'x.tar.zst'), '--root', dir])
    expect(out.code).toBe(2)
    expect(out.error?.message).toMatch(/no revision lab@9/)
    expect(await fs.lstat(path.join(dir, 'x.tar.zst')).catch(() => undefined)).toBeUndefined()
  })
})
