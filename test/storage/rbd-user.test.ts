/**
 * pxeroot run as a cephx user of its own, not admin (README "A cephx user for pxeroot"), against
 * the run's real cluster. The cluster's admin makes the user by running README's block as it
 * stands there (the smallest delta: the pool, the user's name, and /etc/ceph under the test's
 * root). The site's ceph.conf is the cluster's, with each client's keyring where Ceph looks for it
 * by default (/etc/ceph/ceph.client.NAME.keyring, under the root), as on a real server.
 * With that user: prepare is refused on a pool only admin can prepare (one line, exit 3, nothing
 * changed), recorded once admin has; then import, clone, doctor, list, rebase, rollback, rm and a
 * takeover's fence all work, and the user can reach nothing beyond its pool and its node users.
 */
import {randomBytes} from 'node:crypto'
import {promises as fs} from 'node:fs'
import path from 'node:path'

import {execa} from 'execa'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import Doctor from '../../src/commands/doctor.js'
import NodesClone from '../../src/commands/nodes/clone.js'
import NodesList from '../../src/commands/nodes/list.js'
import NodesRebase from '../../src/commands/nodes/rebase.js'
import NodesRm from '../../src/commands/nodes/rm.js'
import NodesRollback from '../../src/commands/nodes/rollback.js'
import StoragePrepare from '../../src/commands/storage/prepare.js'
import {EXIT} from '../../src/errors.js'
import {fence, planFence} from '../../src/storage/rbd/fence.js'
import {nodeCaps, serverCaps} from '../../src/storage/rbd/names.js'
import {cephSkipReason, sharedCluster, type TestCluster} from '../support/ceph.js'
import {CEPH_CONF, importGolden, leftovers, rbdSite, type RbdSite} from '../support/rbd-site.js'
import {PROJECT, runCommand} from '../support/run-command.js'

const skip = await cephSkipReason()
/** Cluster-wide, like every cephx user: this file's own name. */
const USER = `pxeroot-t${randomBytes(3).toString('hex')}`

/** README's block that makes pxeroot's user. */
async function readmeBlock(): Promise<string> {
  const readme = await fs.readFile(path.join(PROJECT, 'README.md'), 'utf8')
  const m = /<!-- rbd-user-caps -->\n```sh\n([\s\S]*?)\n```/.exec(readme)
  if (!m) throw new Error('README has no rbd-user-caps block')
  return m[1]
}

describe.skipIf(skip)(`pxeroot as a cephx user of its own${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let cluster: TestCluster
  let s: RbdSite
  let bin = ''
  const blocklisted: string[] = []
  const prepare = (id: string) => runCommand(StoragePrepare, ['--rbd', s.pool, '--ceph-conf', CEPH_CONF, '--ceph-id', id, '--netns', cluster.namespace, ...s.root])
  /** `ceph` as pxeroot's user, with the keyring the block wrote. */
  const asUser = (args: string[]) => {
    const [cmd, argv] = cluster.inNet('ceph', ['--conf', path.join(s.dir, CEPH_CONF), '--id', USER, ...args])
    return execa(cmd, argv, {reject: false, timeout: 60_000})
  }
  const caps = async (entity: string) => (JSON.parse(await cluster.ceph(['auth', 'get', entity, '--format', 'json'])) as {caps: Record<string, string>}[])[0].caps

  beforeAll(async () => {
    cluster = await sharedCluster()
    s = await rbdSite(cluster, {prepare: false})
    const etc = path.join(s.dir, 'etc/ceph')
    const conf = (await fs.readFile(cluster.conf, 'utf8')).replace(/^keyring = .*$/m, `keyring = ${etc}/$cluster.$name.keyring`)
    await fs.rm(path.join(s.dir, CEPH_CONF))
    await fs.writeFile(path.join(s.dir, CEPH_CONF), conf)
    await fs.copyFile(cluster.adminKeyring, path.join(etc, 'ceph.client.admin.keyring'))
    // The cluster admin's `ceph`, for the block: in the cluster's namespace, with its ceph.conf.
    bin = path.join(s.dir, 'admin-bin')
    await fs.mkdir(bin)
    const [cmd, argv] = cluster.inNet('/usr/bin/ceph', ['--conf', cluster.conf])
    await fs.writeFile(path.join(bin, 'ceph'), `#!/bin/sh\nexec ${[cmd, ...argv].join(' ')} "$@"\n`, {mode: 0o755})
    const block = (await readmeBlock()).replace(/^POOL=pxeroot USER=pxeroot$/m, `POOL=${s.pool} USER=${USER}`).replaceAll('/etc/ceph/', `${etc}/`)
    await execa('bash', ['-euo', 'pipefail', '-c', block], {env: {PATH: `${bin}:${process.env.PATH}`}, timeout: 60_000})
  }, 300_000)

  afterAll(async () => {
    for (const address of blocklisted) await cluster?.ceph(['osd', 'blocklist', 'rm', address]).catch(() => undefined)
    await cluster?.ceph(['auth', 'del', `client.${USER}`]).catch(() => undefined)
    await s?.cleanup()
  })

  it('README\'s block makes the user with the caps pxeroot documents, and its keyring where Ceph looks', async () => {
    expect(await caps(`client.${USER}`)).toEqual(serverCaps(s.pool))
    expect(await fs.readFile(path.join(s.dir, `etc/ceph/ceph.client.${USER}.keyring`), 'utf8')).toContain(`[client.${USER}]`)
  })

  it('prepare as the user, on a pool only admin can prepare: one line naming the request and the user, exit 3, nothing changed', async () => {
    const before = await fs.readFile(path.join(s.dir, 'etc/pxeroot/pxeroot.yaml'), 'utf8')
    const r = await prepare(USER)
    expect(r.code).toBe(EXIT.precondition)
    expect(r.error?.message).toMatch(new RegExp(`^the cluster refused ceph osd pool application enable to client\\.${USER} \\(.*access denied`))
    expect(r.error?.message.split('\n')).toHaveLength(1)
    expect(await fs.readFile(path.join(s.dir, 'etc/pxeroot/pxeroot.yaml'), 'utf8')).toBe(before)
    expect(JSON.parse(await cluster.ceph(['osd', 'pool', 'application', 'get', s.pool, '--format', 'json']))).toEqual({})
    expect(await s.namespaces()).toEqual([])
  })

  it('prepared once with admin\'s key, the second prepare records the user; the site then runs as it', async () => {
    expect((await prepare('admin')).error?.message).toBeUndefined()
    const r = await runCommand(StoragePrepare, ['--rbd', s.pool, '--ceph-id', USER, ...s.root, '--json'])
    expect(r.error?.message).toBeUndefined()
    expect((r.result as {steps: string[]}).steps).toEqual([`record storage.backend: rbd (pool ${s.pool}) in the site file`])
    expect((await s.site()).storage.rbd).toMatchObject({pool: s.pool, id: USER})
  })

  it('as the user: import, clone with node keys of exactly the documented caps, doctor, list, rebase, rollback, rm', async () => {
    await importGolden(s)
    const clone = await runCommand(NodesClone, ['2', ...s.root, '--json'])
    expect(clone.error?.message).toBeUndefined()
    for (const node of ['node01', 'node02']) expect(await caps(`client.pxeroot.${s.pool}.${node}`)).toEqual(nodeCaps(s.pool, node))

    const checks = ((await runCommand(Doctor, [...s.root, '--json'])).result as {checks: {check: string, status: string}[]}).checks
    expect(checks.filter((c) => ['rbd pool', 'node clones', 'node keys'].includes(c.check)).map((c) => `${c.check}: ${c.status}`)).toEqual(['rbd pool: ok', 'node clones: ok', 'node keys: ok'])
    const list = await runCommand(NodesList, [...s.root, '--json'])
    expect((list.result as {nodes: {name: string, method: string}[]}).nodes.map((n) => `${n.name} ${n.method}`)).toEqual(['node01 rbd', 'node02 rbd'])

    await importGolden(s)
    expect((await runCommand(NodesRebase, ['node01', '--image', 'debian-bookworm@2', ...s.root])).error?.message).toBeUndefined()
    expect(await s.images('node01')).toEqual(['root', 'root.previous'])
    expect((await runCommand(NodesRollback, ['node01', ...s.root])).error?.message).toBeUndefined()
    expect(JSON.parse(await cluster.rbd(['info', '--format', 'json', `${s.pool}/node01/root`])).parent).toMatchObject({image: 'debian-bookworm-1'})

    expect((await runCommand(NodesRm, ['node02', ...s.root])).error?.message).toBeUndefined()
    await expect(cluster.ceph(['auth', 'get', `client.pxeroot.${s.pool}.node02`])).rejects.toThrow(/ENOENT|failed to find/)
    expect(await s.namespaces()).toEqual(['node01', 'revisions'])
    expect(await leftovers(s.dir)).toEqual([])
  }, 900_000)

  it('as the user, a takeover\'s fence blocklists the lost client and breaks its lock', async () => {
    // A lost server's lock on node01's clone: taken by a client that is gone (as a crashed server's would be).
    await cluster.rbd(['lock', 'add', `${s.pool}/node01/root`, 'lost-server'])
    const site = await s.site()
    const plan = await planFence(s.ctx, site, ['node01'])
    expect(plan.targets.map((t) => t.lockers.map((l) => l.cookie))).toEqual([['lost-server']])
    blocklisted.push(...plan.addresses)
    const done = await fence(s.ctx, site, plan)
    expect(done.blocklisted).toEqual(plan.addresses)
    expect(done.broken.map((b) => b.node)).toEqual(['node01'])
    const list = await cluster.ceph(['osd', 'blocklist', 'ls'])
    for (const address of plan.addresses) expect(list).toContain(address)
    expect(JSON.parse(await cluster.rbd(['lock', 'ls', '--format', 'json', `${s.pool}/node01/root`]))).toEqual([])
  }, 120_000)

  it('the user reaches nothing beyond its pool and its node users', async () => {
    const node = (n: string, pool = s.pool) => ['mon', 'profile rbd', 'osd', `profile rbd pool=${pool} namespace=${n}, profile rbd-read-only pool=${pool} namespace=revisions`, 'mgr', `profile rbd pool=${pool} namespace=${n}`]
    const refused = async (args: string[]) => {
      const r = await asUser(args)
      return r.exitCode !== 0 && /EACCES|access denied|Permission denied/.test(r.stderr)
    }
    // Allowed: a node user of its site, with a node's caps (what nodes clone does).
    expect((await asUser(['auth', 'get-or-create', `client.pxeroot.${s.pool}.probe`, ...node('probe')])).exitCode).toBe(0)
    await cluster.ceph(['auth', 'del', `client.pxeroot.${s.pool}.probe`])
    for (const args of [
      ['auth', 'get', 'client.admin'],
      ['auth', 'ls'],
      ['auth', 'get-or-create', 'client.other', ...node('x')],
      ['auth', 'get-or-create', `client.pxeroot.${s.pool}.x`, 'mon', 'allow *', 'osd', 'allow *'],
      ['auth', 'get-or-create', `client.pxeroot.${s.pool}.x`, ...node('x').slice(0, 4), 'mgr', 'allow *'],
      ['auth', 'get-or-create', `client.pxeroot.${s.pool}.x`, ...node('x', 'rbd')],
      ['auth', 'caps', `client.pxeroot.${s.pool}.node01`, 'mon', 'allow *'],
      ['osd', 'pool', 'create', `${s.pool}-more`, '8'],
    ]) expect({args, refused: await refused(args)}).toEqual({args, refused: true})
  }, 120_000)
})
