/**
 * `servers takeover LOST --to THIS` (issue 18): this server exports the roots the lost one held.
 * Refused, changing nothing, when those roots are on the lost server's own disk; with storage
 * both reach, the nodes become this server's and its share exports them with the Export_Id they
 * had there, checked by the real ganesha.nfsd like every apply.
 */
import {promises as fs} from 'node:fs'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {applyBootConfig} from '../../src/apply/apply.js'
import {GANESHA_PATHS} from '../../src/backends/nfs/ganesha.js'
import {PreconditionError} from '../../src/errors.js'
import {takeOver} from '../../src/services/servers-takeover.js'
import {seedServersSiteText} from '../support/seed-model.js'
import {freshRootPerTest, seedSite, snapshotTree, testContext} from '../support/tmp-root.js'

const tmp = freshRootPerTest()
const isRoot = process.getuid?.() === 0
const NODES = 'nodes:\n  - {name: node01, ip: 192.168.0.201, server: boot1}\n  - {name: node02, ip: 192.168.0.202, server: boot2}\n'
const read = (dir: string, p: string) => fs.readFile(path.join(dir, p), 'utf8')
/** Export blocks by their Path: the Export_Id each root gets. */
const exportIds = (text: string) => Object.fromEntries([...text.matchAll(/Export_Id = (\d+);[^}]*?Path = "?([^";\n]+)"?;/gs)].map((m) => [m[2], Number(m[1])]))

async function servers(shared: boolean): Promise<{boot1: string, boot2: string}> {
  const boot1 = path.join(tmp.dir, 'boot1')
  const boot2 = path.join(tmp.dir, 'boot2')
  for (const dir of [boot1, boot2]) {
    await seedSite(dir, {site: await seedServersSiteText('backends: {nfs: ganesha}\n')})
    await fs.writeFile(path.join(dir, 'etc/pxeroot/nodes.yaml'), NODES)
  }
  for (const n of ['node01', 'node02']) await fs.mkdir(path.join(shared || n === 'node02' ? boot2 : boot1, 'srv/nodes', n), {recursive: true})
  // Shared storage: boot1 sees boot2's roots directory as its own (a disk both servers reach).
  if (shared) {
    await fs.mkdir(path.join(boot1, 'srv'), {recursive: true})
    await fs.symlink(path.join(boot2, 'srv/nodes'), path.join(boot1, 'srv/nodes'))
  }
  return {boot1, boot2}
}

describe.skipIf(!isRoot)('servers takeover', () => {
  it('refuses, changing nothing, when the lost server\'s roots are on its own disk', async () => {
    const {boot2} = await servers(false)
    await applyBootConfig({...testContext(boot2), server: 'boot2'})
    const before = await snapshotTree(boot2)
    const error = await takeOver(testContext(boot2), {lost: 'boot1', to: 'boot2'}).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(PreconditionError)
    expect((error as Error).message).toBe('boot2 cannot reach the roots boot1 held (node01): a takeover moves which server exports a root, not the root, and these are on boot1\'s own storage; nothing was changed')
    expect(await snapshotTree(boot2)).toEqual(before)
  })

  it('with storage both reach: the nodes become this server\'s, exported with the Export_Id the lost server gave them', async () => {
    const {boot1, boot2} = await servers(true)
    await applyBootConfig({...testContext(boot1), server: 'boot1'})
    await applyBootConfig({...testContext(boot2), server: 'boot2'})
    const onBoot1 = exportIds(await read(boot1, GANESHA_PATHS.exports))
    expect(Object.keys(exportIds(await read(boot2, GANESHA_PATHS.exports))).filter((p) => p.startsWith('/srv/nodes/'))).toEqual(['/srv/nodes/node02'])
    const result = await takeOver(testContext(boot2), {lost: 'boot1', to: 'boot2', address: true})
    expect(result).toMatchObject({lost: 'boot1', to: 'boot2', moved: ['node01'], address: {skipped: expect.stringMatching(/^--root .* is not this machine's root$/)}})
    expect(await read(boot2, 'etc/pxeroot/nodes.yaml')).toMatch(/name: node01\n\s+ip: 192\.168\.0\.201\n\s+server: boot2\n/)
    const onBoot2 = exportIds(await read(boot2, GANESHA_PATHS.exports))
    expect(onBoot2['/srv/nodes/node01']).toBe(onBoot1['/srv/nodes/node01'])
    // New boots mount node01's root from boot2.
    expect(await read(boot2, 'var/lib/tftpboot/pxelinux.cfg/C0A800C9')).toContain('nfsroot=192.168.0.11:/srv/nodes/node01,')
    await expect(takeOver(testContext(boot2), {lost: 'boot1', to: 'boot2'})).rejects.toThrow(/^boot1 holds no node's root: nothing to take over/)
  })
})
