import {promises as fs} from 'node:fs'
import path from 'node:path'

import {execa} from 'execa'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import ImageExport from '../../src/commands/image/export.js'
import ImageImport from '../../src/commands/image/import.js'
import {revisionRootfs} from '../../src/images/layout.js'
import {goldenImage, removeGoldenRoot, type Golden} from '../support/golden.js'
import {seedSite, tmpRoot} from '../support/tmp-root.js'
import {runCommand} from '../support/run-command.js'

/** The real debian-bookworm golden image through export and import, into another server's root. */
describe('golden image export → import', () => {
  let golden: Golden
  let target: {dir: string, cleanup: () => Promise<void>}

  beforeAll(async () => {
    golden = await goldenImage()
    target = await tmpRoot('pxeroot-golden-import-')
    await seedSite(target.dir)
  })

  afterAll(async () => {
    if (golden) await removeGoldenRoot(golden)
    await target?.cleanup()
  })

  it('arrives identical, with ping keeping cap_net_raw', async () => {
    const ref = `${golden.ref.image}@${golden.ref.revision}`
    const archive = path.join(target.dir, 'golden.tar.zst')
    const exported = await runCommand(ImageExport, [ref, archive, '--root', golden.rootPrefix, '--json'])
    expect(exported.error?.message).toBeUndefined()
    const imported = await runCommand(ImageImport, [archive, '--name', 'gold', '--root', target.dir, '--json'])
    expect(imported.error?.message).toBeUndefined()
    expect(imported.result).toMatchObject({revision: 'gold@1', from: ref})

    const a = golden.root.resolve(revisionRootfs(golden.site, golden.ref))
    const b = path.join(target.dir, 'srv/pxeroot/images/gold/1/rootfs')
    const rsync = await execa('rsync', ['-ainHAX', '--numeric-ids', '--delete', '--dry-run', `${a}/`, `${b}/`])
    expect(rsync.stdout.trim()).toBe('')
    const cap = async (root: string) => (await execa('getcap', [path.join(root, 'usr/bin/ping')])).stdout.replace(root, '')
    expect(await cap(b)).toMatch(/cap_net_raw[=+]ep/)
    expect(await cap(b)).toBe(await cap(a))
    const kernel = (imported.result as {kernel: string}).kernel
    const published = await fs.stat(path.join(target.dir, 'var/lib/tftpboot/pxeroot/gold/1/initrd.img'))
    expect(published.mode & 0o777).toBe(0o644)
    expect(published.size).toBe((await fs.stat(path.join(b, `boot/initrd.img-${kernel}`))).size)
  }, 15 * 60_000)
})
