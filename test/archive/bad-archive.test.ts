import {promises as fs} from 'node:fs'
import path from 'node:path'

import {execa} from 'execa'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import ImageImport from '../../src/commands/image/import.js'
import {seedSite, tmpRoot} from '../support/tmp-root.js'
import {runCommand} from '../support/run-command.js'
import {KERNEL, makeSyntheticRevision, manifestFor} from './synthetic.js'

/** Every path under the root with its type and mode, except pxeroot's own lock files. */
async function everything(dir: string): Promise<string[]> {
  const {stdout} = await execa('find', [dir, '-printf', '%P %y %m %s\n'])
  return stdout.split('\n').filter((l) => !l.startsWith('var/lib/pxeroot/locks')).sort()
}

describe('image import refuses what is not a pxeroot export and leaves nothing behind', () => {
  let dir: string
  let work: string
  let cleanup: () => Promise<void>
  let cleanupWork: () => Promise<void>

  /** A zstd tar of `src` (holding manifest.json and rootfs/) with the given members, names kept as given. */
  async function archiveOf(name: string, members: string[], extra: string[] = []): Promise<string> {
    const file = path.join(work, name)
    await execa('tar', ['--zstd', '-cf', file, '-P', '--xattrs', '--numeric-owner', '-C', path.join(work, 'src'), ...extra, ...members])
    return file
  }

  beforeAll(async () => {
    ;({dir, cleanup} = await tmpRoot('pxeroot-badarchive-'))
    ;({dir: work, cleanup: cleanupWork} = await tmpRoot('pxeroot-badarchive-work-'))
    await seedSite(dir)
    // pxeroot's state dir exists on an initialized server; the per-image lock lives there.
    await fs.mkdir(path.join(dir, 'var/lib/pxeroot'), {recursive: true})
    await makeSyntheticRevision(path.join(work, 'src'), 'lab', 3)
    // An image that already exists: a refused import must not touch it.
    await makeSyntheticRevision(path.join(dir, 'srv/pxeroot/images/lab/1'), 'lab', 1)
    await fs.symlink('1', path.join(dir, 'srv/pxeroot/images/lab/current'))
    await fs.writeFile(path.join(work, 'outside.txt'), 'escaped\n')
  })

  afterAll(async () => {
    await cleanup?.()
    await cleanupWork?.()
  })

  async function refused(file: string, pattern: RegExp, name = 'lab'): Promise<void> {
    const before = await everything(dir)
    const out = await runCommand(ImageImport, [file, '--name', name, '--root', dir])
    expect(out.code).toBe(2)
    expect(out.error?.message).toMatch(pattern)
    expect(out.error?.message.split('\n')).toHaveLength(1)
    expect(await everything(dir)).toEqual(before)
  }

  it('a file that is not a zstd tar', async () => {
    const file = path.join(work, 'junk.tar.zst')
    await fs.writeFile(file, 'this is not an archive\n')
    await refused(file, /not a readable zstd tar archive/)
  })

  it('an archive without manifest.json first', async () => {
    await refused(await archiveOf('nomanifest.tar.zst', ['rootfs']), /not a pxeroot export: its first member is "rootfs\/"/)
  })

  it('an archive with members outside its directory (path traversal)', async () => {
    await refused(await archiveOf('dotdot.tar.zst', ['manifest.json', 'rootfs', 'rootfs/../../outside.txt']), /"rootfs\/\.\.\/\.\.\/outside\.txt" points outside/)
    await refused(await archiveOf('absolute.tar.zst', ['manifest.json', 'rootfs', path.join(work, 'outside.txt')]), /points outside/)
    await expect(fs.stat(path.join(dir, '..', 'outside.txt'))).rejects.toThrow()
  })

  it('an archive with other top-level members', async () => {
    await fs.writeFile(path.join(work, 'src/extra'), 'x')
    await refused(await archiveOf('extra.tar.zst', ['manifest.json', 'rootfs', 'extra']), /"extra" is neither manifest.json nor under rootfs\//)
  })

  it('a manifest that is not JSON, or lacks the kernel', async () => {
    const m = path.join(work, 'src/manifest.json')
    const good = await fs.readFile(m, 'utf8')
    await fs.writeFile(m, 'hello')
    await refused(await archiveOf('notjson.tar.zst', ['manifest.json', 'rootfs']), /manifest.json is not valid JSON/)
    const {kernel: _kernel, ...noKernel} = manifestFor('lab', 3)
    await fs.writeFile(m, JSON.stringify(noKernel))
    await refused(await archiveOf('nokernel.tar.zst', ['manifest.json', 'rootfs']), /kernel: is required/)
    await fs.writeFile(m, JSON.stringify({...manifestFor('lab', 3), kernel: '../../../etc/shadow'}))
    await refused(await archiveOf('badkernel.tar.zst', ['manifest.json', 'rootfs']), /is not a kernel version/)
    await fs.writeFile(m, good)
  })

  it('a rootfs without the manifest kernel in /boot, found after unpacking: staging removed, new image not created', async () => {
    const m = path.join(work, 'src/manifest.json')
    const good = await fs.readFile(m, 'utf8')
    await fs.writeFile(m, JSON.stringify({...manifestFor('lab', 3), kernel: '6.9.9-missing'}))
    const file = await archiveOf('missingkernel.tar.zst', ['manifest.json', 'rootfs'])
    await fs.writeFile(m, good)
    await refused(file, /no regular file \/boot\/vmlinuz-6\.9\.9-missing/, 'fresh')
    await refused(file, /no regular file \/boot\/vmlinuz-6\.9\.9-missing/, 'lab')
    expect(await fs.readlink(path.join(dir, 'srv/pxeroot/images/lab/current'))).toBe('1')
  })

  it('after all the refusals, a good archive still imports as the next revision', async () => {
    const out = await runCommand(ImageImport, [await archiveOf('good.tar.zst', ['manifest.json', 'rootfs'], ['--acls', '--xattrs-include=*']), '--root', dir])
    expect(out.result).toMatchObject({revision: 'lab@2', kernel: KERNEL})
  })
})
