/**
 * Two servers, one site state in the cluster (issue 18), through the built CLI as two admins type
 * it: `nodes clone 3` started at the same moment on boot1 and on boot2 (two roots, each its own
 * copy of the state, one pool of the run's shared cluster). One run gets the cluster's lock and
 * clones; the other is refused busy (exit 5) and makes nothing; the stored state, as a third
 * server that joins reads it, has every node exactly once, and the pool a clone for each.
 */
import {promises as fs} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {execa} from 'execa'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {EXIT} from '../../src/errors.js'
import {cephSkipReason, sharedCluster} from '../support/ceph.js'
import {BIN} from '../support/cli.js'
import {goldenSiteText} from '../support/golden.js'
import {CEPH_CONF, goldenArchive, leftovers, rbdSite, type RbdSite} from '../support/rbd-site.js'

const skip = process.getuid?.() === 0 ? await cephSkipReason() : 'needs root'
const TWO = (site: string) => site.replace('server: 10.77.0.1\n', 'servers:\n  - {name: boot1, address: 10.77.0.1}\n  - {name: boot2, address: 10.77.0.2}\n')
let a: RbdSite
const others: string[] = []

/** Another server's root: the site file and the cluster's ceph.conf, as a machine that joins has them. */
async function joining(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pxeroot-rbd-join-'))
  others.push(dir)
  await fs.mkdir(path.join(dir, 'etc/pxeroot'), {recursive: true})
  await fs.mkdir(path.join(dir, 'etc/ceph'), {recursive: true})
  await fs.copyFile(path.join(a.dir, 'etc/pxeroot/pxeroot.yaml'), path.join(dir, 'etc/pxeroot/pxeroot.yaml'))
  await fs.symlink(a.cluster.conf, path.join(dir, CEPH_CONF))
  return dir
}

/** The built pxeroot on a server's root, as its admin runs it. */
const pxeroot = (root: string, server: string, ...args: string[]) => execa(process.execPath, [BIN, ...args], {env: {PXEROOT_ROOT: root, PXEROOT_SERVER: server, NODE_ENV: 'production'}, reject: false, timeout: 600_000})

describe.skipIf(skip !== undefined)(`two servers clone at once${skip ? ` (skipped: ${skip})` : ''}`, () => {
  beforeAll(async () => {
    a = await rbdSite(await sharedCluster(), {siteText: TWO(goldenSiteText())})
    // The image, as boot1's admin imports it (the built CLI: a command class run in-process has no
    // id, so its end would not store the site state): it lands in the pool, its metadata in the state.
    const imported = await pxeroot(a.dir, 'boot1', 'image', 'import', await goldenArchive(), '--name', 'debian-bookworm')
    expect(imported.exitCode, imported.stderr).toBe(0)
    expect(imported.stderr).not.toMatch(/not yet in the cluster|did not answer/)
  }, 900_000)

  afterAll(async () => {
    for (const dir of others) await execa('rm', ['-rf', '--one-file-system', '--', dir])
    await a?.cleanup()
  })

  it('one clones, the other is refused busy (exit 5) and makes nothing; the stored state has every node once', async () => {
    const b = await joining()
    // Both start at once, each on its own copy of the state.
    const [one, two] = await Promise.all([pxeroot(a.dir, 'boot1', 'nodes', 'clone', '3'), pxeroot(b, 'boot2', 'nodes', 'clone', '3')])
    const runs = [{server: 'boot1', ...one}, {server: 'boot2', ...two}]
    expect(runs.map((r) => r.exitCode).sort(), runs.map((r) => `${r.server}: ${r.exitCode} ${r.stderr}`).join('\n')).toEqual([0, EXIT.busy])
    for (const r of runs) expect(r.stderr, r.server).not.toMatch(/not stored in the cluster|has no revisions/)
    const loser = runs.find((r) => r.exitCode === EXIT.busy)!
    const winner = runs.find((r) => r.exitCode === 0)!
    // One line says why, naming the run that holds the lock; the loser cloned nothing.
    expect(loser.stderr).toMatch(new RegExp(`the site is busy: another pxeroot run holds its lock in the cluster \\(${winner.server}, pid \\d+: nodes clone 3, since .*\\); nothing was changed`))

    // A third server joins and reads the stored state: three nodes, each once, each with a clone.
    const c = await joining()
    const list = await pxeroot(c, 'boot2', 'nodes', 'list', '--json')
    expect(list.exitCode, list.stderr).toBe(0)
    const names = (JSON.parse(list.stdout) as {nodes: {name: string}[]}).nodes.map((n) => n.name)
    expect(names).toEqual(['node01', 'node02', 'node03'])
    expect((await a.namespaces()).filter((n) => n.startsWith('node'))).toEqual(['node01', 'node02', 'node03'])
    // The loser's server, once in step, has the same nodes: its run left nothing of its own.
    const again = await pxeroot(loser.server === 'boot1' ? a.dir : b, loser.server, 'nodes', 'list', '--json')
    expect((JSON.parse(again.stdout) as {nodes: {name: string}[]}).nodes.map((n) => n.name)).toEqual(names)
    for (const dir of [a.dir, b, c]) expect(await leftovers(dir)).toEqual([])
  }, 900_000)
})
