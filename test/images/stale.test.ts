import {execa} from 'execa'
import {promises as fs} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {type Context} from '../../src/system/context.js'
import {parseSite} from '../../src/config/site-file.js'
import {removeStale} from '../../src/images/store.js'
import {localStorage} from '../../src/storage/local.js'
import {mountsUnder, parseMountPoints} from '../../src/system/mounts.js'
import {makeRoot} from '../../src/system/paths.js'
import {execaRunner} from '../../src/system/runner.js'
import {hostFiles} from '../../src/system/files.js'

describe('cleaning up after a crashed run', () => {
  let dir: string
  let ctx: Context
  const site = parseSite('server: 10.77.0.1\nsubnet: 10.77.0.0/24\nnodes:\n  range: 10.77.0.100-10.77.0.150\n')

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pxeroot-stale-'))
    ctx = {root: makeRoot(path.join(dir, 'root')), runner: execaRunner(), files: hostFiles, log: () => {}, signal: new AbortController().signal, json: false}
  })
  afterAll(async () => {
    if (dir && (await mountsUnder(dir)).length === 0) await execa('rm', ['-rf', '--one-file-system', '--', dir])
  })

  it('unmounts a leftover bind mount in a staging tree before deleting it, so what it pointed at survives', async () => {
    // Stands for the host's /dev bound into a chroot by a tool that crashed without a private namespace.
    const precious = path.join(dir, 'precious')
    await fs.mkdir(precious)
    await fs.writeFile(path.join(precious, 'keep-me'), 'host data\n')
    const staging = ctx.root.resolve('/srv/pxeroot/images/lab/.staging-20260101T000000-abcdef')
    await fs.mkdir(path.join(staging, 'work/dev'), {recursive: true})
    await execa('mount', ['--bind', precious, path.join(staging, 'work/dev')])
    await execa('mount', ['-t', 'tmpfs', 'tmpfs', path.join(staging, 'work/dev')]) // stacked, as after a double bind
    expect(await mountsUnder(staging)).toHaveLength(1)

    expect(await removeStale(ctx, site, localStorage(ctx, site), 'lab')).toEqual(['.staging-20260101T000000-abcdef'])
    expect(await mountsUnder(dir)).toEqual([])
    await expect(fs.stat(staging)).rejects.toThrow(/ENOENT/)
    expect(await fs.readFile(path.join(precious, 'keep-me'), 'utf8')).toBe('host data\n')
  })

  it('reads mount points with escaped spaces from mountinfo', () => {
    expect(parseMountPoints('36 35 98:0 / /mnt/with\\040space rw - ext4 /dev/x rw\n')).toEqual(['/mnt/with space'])
  })
})
