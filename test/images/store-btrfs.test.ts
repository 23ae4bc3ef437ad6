import {execa} from 'execa'
import {promises as fs} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {type Context} from '../../src/system/context.js'
import {parseSite} from '../../src/config/site-file.js'
import {currentRevision, revisionRootfs} from '../../src/images/layout.js'
import {type Manifest} from '../../src/images/manifest.js'
import {listRevisions, promote, removeStale} from '../../src/images/store.js'
import {localStorage} from '../../src/storage/local.js'
import {isSubvolume} from '../../src/system/mounts.js'
import {makeRoot} from '../../src/system/paths.js'
import {execaRunner} from '../../src/system/runner.js'
import {hostFiles} from '../../src/system/files.js'

/** Revisions on btrfs: read-only subvolume snapshots, O(1) working copies, stale subvolumes removed. */
describe('the image store on a loop-mounted btrfs', () => {
  let dir: string
  let ctx: Context
  const site = parseSite('server: 10.77.0.1\nsubnet: 10.77.0.0/24\nnodes:\n  range: 10.77.0.100-10.77.0.150\npaths:\n  images: /images\n')

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pxeroot-btrfs-'))
    await execa('truncate', ['-s', '256M', path.join(dir, 'fs.img')])
    await execa('mkfs.btrfs', ['-q', path.join(dir, 'fs.img')])
    await fs.mkdir(path.join(dir, 'root/images'), {recursive: true})
    await execa('mount', ['-o', 'loop', path.join(dir, 'fs.img'), path.join(dir, 'root/images')])
    ctx = {root: makeRoot(path.join(dir, 'root')), runner: execaRunner(), files: hostFiles, log: () => {}, signal: new AbortController().signal, json: false}
  })
  afterAll(async () => {
    if (!dir) return
    await execa('umount', [path.join(dir, 'root/images')], {reject: false})
    await execa('rm', ['-rf', '--one-file-system', '--', dir])
  })

  it('promotes a staging subvolume to a read-only snapshot and makes writable snapshots of it', async () => {
    const storage = localStorage(ctx, site)
    const staging = await storage.createStaging('lab')
    expect(staging.btrfs).toBe(true)
    expect(await isSubvolume(staging.work)).toBe(true)
    await fs.mkdir(path.join(staging.work, 'etc'))
    await fs.writeFile(path.join(staging.work, 'etc/os-release'), 'ID=debian\n')
    await promote(ctx, site, storage, staging, {revision: 1, image: 'lab'} as Manifest)
    const rootfs = ctx.root.resolve(revisionRootfs(site, {image: 'lab', revision: 1}))
    expect((await execa('btrfs', ['property', 'get', '-ts', rootfs, 'ro'])).stdout.trim()).toBe('ro=true')
    await expect(fs.writeFile(path.join(rootfs, 'etc/x'), 'x')).rejects.toThrow(/EROFS/)
    expect((await currentRevision(ctx.root, site, 'lab'))?.revision).toBe(1)

    const copy = await storage.workingCopy({image: 'lab', revision: 1})
    expect(copy.btrfs).toBe(true)
    await fs.writeFile(path.join(copy.work, 'etc/x'), 'x')
    expect(await fs.readFile(path.join(copy.work, 'etc/os-release'), 'utf8')).toBe('ID=debian\n')
    // As if the process had been killed: the next run removes the stale subvolume and its directory.
    const removed = await removeStale(ctx, site, storage, 'lab')
    expect(removed).toHaveLength(1)
    expect((await fs.readdir(ctx.root.resolve('/images/lab'))).filter((f) => f.startsWith('.staging-'))).toEqual([])
    expect((await execa('btrfs', ['subvolume', 'list', ctx.root.resolve('/images')])).stdout.split('\n').filter(Boolean)).toHaveLength(1)
    expect(await listRevisions(ctx.root, site, 'lab')).toEqual([1])
  })
})
