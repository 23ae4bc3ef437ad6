/**
 * Node roots on an rbd site, against the run's real cluster: each node's root a copy-on-write
 * clone of a revision snapshot in the node's own RBD namespace, with its own cephx key; identity
 * and node-local state written with the clone attached here; rebase, rollback, prune, rm, list;
 * and what each node's boot entry says to map it.
 */
import {promises as fs} from 'node:fs'
import path from 'node:path'

import {execa, type ResultPromise} from 'execa'
import {beforeAll, describe, expect, it} from 'vitest'

import Apply from '../../src/commands/apply.js'
import Doctor from '../../src/commands/doctor.js'
import NodesClone from '../../src/commands/nodes/clone.js'
import NodesList from '../../src/commands/nodes/list.js'
import NodesPrune from '../../src/commands/nodes/prune.js'
import NodesRebase from '../../src/commands/nodes/rebase.js'
import NodesRm from '../../src/commands/nodes/rm.js'
import NodesRollback from '../../src/commands/nodes/rollback.js'
import Status from '../../src/commands/status.js'
import {loadInventory} from '../../src/inventory/inventory.js'
import {withStorage} from '../../src/storage/registry.js'
import {cephSkipReason, type TestCluster} from '../support/ceph.js'
import {goldenRbdSite, importGolden, leftovers, rbdSite, type RbdSite} from '../support/rbd-site.js'
import {runCommand} from '../support/run-command.js'
import {snapshotTree} from '../support/tmp-root.js'

const skip = await cephSkipReason()

describe.skipIf(skip)(`node roots on rbd${skip ? ` (skipped: ${skip})` : ''}`, () => {
  const fixture = goldenRbdSite()
  let cluster: TestCluster
  let s: RbdSite
  const namespaces = () => s.namespaces()
  const images = (ns: string) => s.images(ns)
  /** Reads files of a root as the server sees them (attached, through a private view). */
  const readRoot = (name: string, files: string[]) => s.site().then((site) => withStorage(s.ctx, site, async (storage) => {
    const root = await storage.openRoot(name, {write: false})
    try {
      return await Promise.all(files.map((f) => fs.readFile(path.join(root.dir, f), 'utf8').catch(() => undefined)))
    } finally {
      await root.close()
    }
  }))
  /** Runs `rbd` as a node, with the key pxeroot gave it. */
  const asNode = async (node: string, args: string[]) => {
    const keyring = path.join(s.dir, `${node}.keyring`)
    const secret = (await fs.readFile(path.join(s.dir, 'var/lib/pxeroot/rbd-keys', node), 'utf8')).trim()
    await fs.writeFile(keyring, `[client.${user(node)}]\n\tkey = ${secret}\n`, {mode: 0o600})
    const [cmd, argv] = cluster.inNet('rbd', ['--conf', cluster.conf, '--id', user(node), '--keyring', keyring, ...args])
    return execa(cmd, argv, {reject: false, timeout: 60_000})
  }

  /** A node's cephx user: named by the site's pool too (users are cluster-wide). */
  const user = (node: string) => `pxeroot.${s.pool}.${node}`

  beforeAll(() => {
    ({cluster, site: s} = fixture)
  })

  it('clones 3 nodes as RBD clones in namespaces of their own, each a distinct machine with a key of its own', async () => {
    const r = await runCommand(NodesClone, ['3', ...s.root, '--json'])
    expect(r.error?.message).toBeUndefined()
    expect(r.result).toMatchObject({method: 'rbd', created: [{name: 'node01'}, {name: 'node02'}, {name: 'node03'}]})
    expect(await namespaces()).toEqual(['node01', 'node02', 'node03', 'revisions'])
    const ids = new Set<string>()
    const keys = new Set<string>()
    for (const node of ['node01', 'node02', 'node03']) {
      expect(await images(node)).toEqual(['root'])
      const info = JSON.parse(await cluster.rbd(['info', '--format', 'json', `${s.pool}/${node}/root`])) as {parent: {pool: string, pool_namespace: string, image: string, snapshot: string}, features: string[]}
      expect(info.parent).toMatchObject({pool: s.pool, pool_namespace: 'revisions', image: 'debian-bookworm-1', snapshot: '1'})
      expect(info.features).toEqual(expect.arrayContaining(['layering', 'exclusive-lock']))
      const [hostname, machineId, hosts, pub] = await readRoot(node, ['etc/hostname', 'etc/machine-id', 'etc/hosts', 'etc/ssh/ssh_host_ed25519_key.pub'])
      expect(hostname).toBe(`${node}\n`)
      expect(hosts).toContain(node)
      ids.add(machineId!)
      keys.add(pub!)
      const caps = JSON.parse(await cluster.ceph(['auth', 'get', `client.${user(node)}`, '--format', 'json'])) as {caps: Record<string, string>}[]
      expect(caps[0].caps).toEqual({mon: 'profile rbd', osd: `profile rbd pool=${s.pool} namespace=${node}, profile rbd-read-only pool=${s.pool} namespace=revisions`, mgr: `profile rbd pool=${s.pool} namespace=${node}`})
      expect((await fs.stat(path.join(s.dir, 'var/lib/pxeroot/rbd-keys', node))).mode & 0o777).toBe(0o600)
    }
    expect(ids.size).toBe(3)
    expect(keys.size).toBe(3)
    // Each root knows every node's host key (written in the one attach its identity took), as the server does.
    const [knownHosts] = await readRoot('node01', ['etc/ssh/ssh_known_hosts'])
    for (const pub of keys) expect(knownHosts).toContain(pub.split(' ')[1])
    expect(await fs.readFile(path.join(s.dir, 'etc/pxeroot/known_hosts'), 'utf8')).toBe(knownHosts)
    const inventory = await loadInventory(s.ctx.root)
    expect(inventory.nodes.map((n) => (n as {clone?: {method?: string}}).clone?.method)).toEqual(['rbd', 'rbd', 'rbd'])
    expect(await leftovers(s.dir)).toEqual([])
  }, 300_000)

  it('a node\'s key reaches its own clone (and reads its parent), and nothing of another node\'s', async () => {
    expect((await asNode('node01', ['ls', `${s.pool}/node01`])).stdout.trim()).toBe('root')
    // Reading what the clone has not written yet reads its parent, the revision: readable too.
    const read = await asNode('node01', ['bench', '--io-type', 'read', '--io-size', '4M', '--io-total', '16M', '--io-pattern', 'seq', `${s.pool}/node01/root`])
    expect(read.stderr).toBe('')
    expect(read.exitCode).toBe(0)
    const other = await asNode('node01', ['ls', `${s.pool}/node02`])
    expect(other.exitCode).not.toBe(0)
    expect(other.stderr).toMatch(/Operation not permitted/)
    const snap = await asNode('node01', ['snap', 'create', `${s.pool}/revisions/debian-bookworm-1@x`])
    expect(snap.exitCode).not.toBe(0)
  }, 120_000)

  it('boot entries map each node\'s own clone with its own key; nothing of it is exported over NFS', async () => {
    expect((await runCommand(Apply, [...s.root])).error?.message).toBeUndefined()
    const entry = await fs.readFile(path.join(s.dir, 'var/lib/tftpboot/pxelinux.cfg/0A4D0064'), 'utf8')
    const secret = (await fs.readFile(path.join(s.dir, 'var/lib/pxeroot/rbd-keys/node01'), 'utf8')).trim()
    expect(entry).toContain(`APPEND initrd=pxeroot/debian-bookworm/1/initrd.img boot=rbd pxeroot.rbd=10.77.0.253:6789/${s.pool}/node01/root pxeroot.rbd_user=${user('node01')} pxeroot.rbd_key=${secret} ip=dhcp rw pxeroot.revision=debian-bookworm@1\n`)
    const grub = await fs.readFile(path.join(s.dir, 'var/lib/tftpboot/grub/nodes/0A4D0064.cfg'), 'utf8')
    expect(grub).toContain(`pxeroot.rbd_key=${secret}`)
    const exports = await fs.readFile(path.join(s.dir, 'etc/ganesha/pxeroot.conf'), 'utf8')
    expect(exports).not.toMatch(/srv\/nodes/)
  })

  it('nodes list says rbd and the bytes each clone holds in the cluster', async () => {
    const r = await runCommand(NodesList, [...s.root, '--json'])
    const rows = (r.result as {nodes: {name: string, method: string, size: number, sizeKind: string, rootExists: boolean}[]}).nodes
    expect(rows).toHaveLength(3)
    for (const row of rows) {
      expect(row).toMatchObject({method: 'rbd', sizeKind: 'exclusive', rootExists: true})
      // Identity and the filesystem's own metadata: a few 4 MiB objects, nothing like the image.
      expect(row.size).toBeGreaterThan(0)
      expect(row.size).toBeLessThan(100 * 2 ** 20)
    }
  })

  it('rebase clones the new revision and carries node-local state; rollback swaps back; prune drops the previous clone', async () => {
    await importGolden(s)
    await s.site().then((site) => withStorage(s.ctx, site, async (storage) => {
      const root = await storage.openRoot('node01', {write: true})
      await fs.writeFile(path.join(root.dir, 'root/kept'), 'mine\n')
      await root.close()
    }))
    const [id, pub] = await readRoot('node01', ['etc/machine-id', 'etc/ssh/ssh_host_ed25519_key.pub'])
    const r = await runCommand(NodesRebase, ['node01', '--image', 'debian-bookworm@2', ...s.root])
    expect(r.error?.message).toBeUndefined()
    expect(await images('node01')).toEqual(['root', 'root.previous'])
    expect(JSON.parse(await cluster.rbd(['info', '--format', 'json', `${s.pool}/node01/root`])).parent).toMatchObject({image: 'debian-bookworm-2', snapshot: '2'})
    expect(await readRoot('node01', ['root/kept', 'etc/hostname', 'etc/machine-id', 'etc/ssh/ssh_host_ed25519_key.pub'])).toEqual(['mine\n', 'node01\n', id, pub])
    expect((await loadInventory(s.ctx.root)).nodes.find((n) => n.name === 'node01')?.image).toBe('debian-bookworm@2')

    expect((await runCommand(NodesRollback, ['node01', ...s.root])).error?.message).toBeUndefined()
    expect(JSON.parse(await cluster.rbd(['info', '--format', 'json', `${s.pool}/node01/root`])).parent).toMatchObject({image: 'debian-bookworm-1'})
    expect((await loadInventory(s.ctx.root)).nodes.find((n) => n.name === 'node01')?.image).toBe('debian-bookworm@1')
    expect((await runCommand(NodesPrune, [...s.root])).error?.message).toBeUndefined()
    expect(await images('node01')).toEqual(['root'])
    expect(await leftovers(s.dir)).toEqual([])
  }, 600_000)

  it('status reads the boot report a running node wrote into its root, through a view that changes nothing of it', async () => {
    // What node02's boot-report unit writes once it is up.
    await s.site().then((site) => withStorage(s.ctx, site, async (storage) => {
      const root = await storage.openRoot('node02', {write: true})
      await fs.mkdir(path.join(root.dir, 'var/lib/pxeroot'), {recursive: true})
      await fs.writeFile(path.join(root.dir, 'var/lib/pxeroot/booted'), 'revision=debian-bookworm@1\nboot_id=0b1d6c2e-1f2a-4c3b-9d4e-5f6a7b8c9d0e\nbooted_at=2026-01-01T00:00:00Z\n')
      await root.close()
    }))
    // node02 is up: its root is mapped (a watcher on the image).
    const [cmd, argv] = cluster.inNet('rbd', ['--conf', cluster.conf, 'watch', `${s.pool}/node02/root`])
    const watcher: ResultPromise = execa(cmd, argv, {reject: false, timeout: 120_000})
    try {
      for (let i = 0; i < 50 && !(await cluster.rbd(['status', `${s.pool}/node02/root`])).includes('watcher='); i++) await new Promise((r) => setTimeout(r, 200))
      const used = await cluster.rbd(['du', '--format', 'json', `${s.pool}/node02/root`])
      const r = await runCommand(Status, ['node02', ...s.root, '--json'])
      expect(r.error?.message).toBeUndefined()
      // Mapped (the watcher) with no lease in this root: its root is held, its lease unknown here.
      expect((r.result as {nodes: {name: string, booted: unknown}[]}).nodes[0]).toMatchObject({name: 'node02', state: 'mounted', rootMounted: true, booted: {revision: 'debian-bookworm@1', bootId: '0b1d6c2e-1f2a-4c3b-9d4e-5f6a7b8c9d0e'}})
      expect(await cluster.rbd(['du', '--format', 'json', `${s.pool}/node02/root`])).toBe(used)
      expect(await cluster.rbd(['status', `${s.pool}/node02/root`])).toContain('watcher=')
      expect(await leftovers(s.dir)).toEqual([])
    } finally {
      watcher.kill('SIGTERM')
      await watcher
    }
  }, 120_000)

  it('refuses to rebase or remove a root a client has open (its watcher), changing nothing', async () => {
    // Stands for node02 booted, with its root mapped.
    const [cmd, argv] = cluster.inNet('rbd', ['--conf', cluster.conf, 'watch', `${s.pool}/node02/root`])
    const watcher: ResultPromise = execa(cmd, argv, {reject: false, timeout: 120_000})
    try {
      for (let i = 0; i < 50 && !(await cluster.rbd(['status', `${s.pool}/node02/root`])).includes('watcher='); i++) await new Promise((r) => setTimeout(r, 200))
      const before = await snapshotTree(path.join(s.dir, 'etc'))
      const rebase = await runCommand(NodesRebase, ['node02', '--image', 'debian-bookworm@2', ...s.root])
      expect(rebase.code).toBe(2)
      expect(rebase.error?.message).toMatch(new RegExp(`^refusing to rebase a root that looks in use: node02 \\(${s.pool}/node02/root is open by .*\\); nothing was changed`))
      const rm = await runCommand(NodesRm, ['node02', ...s.root])
      expect(rm.code).toBe(2)
      expect(rm.error?.message).toMatch(/^refusing to remove node02: its root is in use/)
      expect(await snapshotTree(path.join(s.dir, 'etc'))).toEqual(before)
      expect(await images('node02')).toEqual(['root'])
    } finally {
      watcher.kill('SIGTERM')
      await watcher
    }
  }, 120_000)

  it('doctor: the cluster, the pool, each node\'s clone on its revision and its key; a key gone is named', async () => {
    const doctor = async () => ((await runCommand(Doctor, [...s.root, '--json'])).result as {checks: {check: string, status: string, message: string}[]}).checks
    const first = await doctor()
    expect(first.filter((c) => ['ceph cluster', 'rbd pool', 'node clones', 'node keys'].includes(c.check))).toEqual([
      {check: 'ceph cluster', status: 'ok', message: 'HEALTH_OK'},
      {check: 'rbd pool', status: 'ok', message: `pool ${s.pool}: rbd, clone v2, revisions namespace`},
      {check: 'node clones', status: 'ok', message: '3 node(s): each a clone of its revision\'s snapshot'},
      {check: 'node keys', status: 'ok', message: '3 key(s): each reaches only its node\'s namespace'},
    ])
    await cluster.ceph(['auth', 'del', `client.${user('node03')}`])
    const keys = (await doctor()).find((c) => c.check === 'node keys')
    expect(keys).toMatchObject({status: 'fail', message: `node03 (no client.${user('node03')})`})
  }, 120_000)

  it('nodes rm removes the clone, the namespace and the key', async () => {
    const r = await runCommand(NodesRm, ['node03', ...s.root, '--json'])
    expect(r.error?.message).toBeUndefined()
    expect(r.result).toMatchObject({removedRoots: [`${s.pool}/node03/root`, `key client.${user('node03')}`]})
    expect(r.stderr).not.toMatch(/warning/)
    expect(await namespaces()).not.toContain('node03')
    await expect(cluster.ceph(['auth', 'get', `client.${user('node03')}`])).rejects.toThrow()
    await expect(fs.stat(path.join(s.dir, 'var/lib/pxeroot/rbd-keys/node03'))).rejects.toThrow(/ENOENT/)
    expect(await leftovers(s.dir)).toEqual([])
  }, 120_000)

  it('a second site on the same cluster (its own pool) has a node01 of its own; removing it leaves the first site\'s key', async () => {
    const other = await rbdSite(cluster)
    try {
      await importGolden(other)
      const r = await runCommand(NodesClone, ['1', ...other.root, '--json'])
      expect(r.error?.message).toBeUndefined()
      expect(r.result).toMatchObject({created: [{name: 'node01'}]})
      const secrets = await Promise.all([s.dir, other.dir].map((dir) => fs.readFile(path.join(dir, 'var/lib/pxeroot/rbd-keys/node01'), 'utf8')))
      expect(secrets[0]).not.toBe(secrets[1])
      expect((await runCommand(NodesRm, ['node01', ...other.root])).error?.message).toBeUndefined()
      await expect(cluster.ceph(['auth', 'get', `client.pxeroot.${other.pool}.node01`])).rejects.toThrow()
      // The first site's node01 still reaches its own clone with its own key.
      expect((await asNode('node01', ['ls', `${s.pool}/node01`])).stdout.trim()).toBe('root')
    } finally {
      await other.cleanup()
    }
  }, 240_000)
})
