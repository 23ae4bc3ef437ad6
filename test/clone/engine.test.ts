import {promises as fs} from 'node:fs'
import path from 'node:path'
import YAML from 'yaml'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {cloneNodes} from '../../src/services/nodes-clone.js'
import {KNOWN_HOSTS_FILE} from '../../src/clone/known-hosts.js'
import {attributeDump, context, loopFs, makeRevision, makeSyntheticTree, sh, treeDifferences, writeSite, type FsType, type LoopFs} from './helpers.js'

// Without shared extents the fallback is the full copy bench/clone.ts measured fastest (cp -a);
// rsync stays selectable for scripts that name it.
const CASES: {fs: FsType, auto: string, forced: ('btrfs' | 'reflink' | 'copy' | 'rsync')[], refused: ('btrfs' | 'reflink')[]}[] = [
  {fs: 'btrfs', auto: 'btrfs', forced: ['reflink', 'copy', 'rsync'], refused: []},
  {fs: 'xfs', auto: 'reflink', forced: ['copy', 'rsync'], refused: ['btrfs']},
  {fs: 'ext4', auto: 'copy', forced: ['rsync'], refused: ['btrfs', 'reflink']},
]

async function inventory(rootDir: string): Promise<{name: string, ip: string, image?: string, clone?: {method: string, machineId: string}}[]> {
  return (YAML.parse(await fs.readFile(path.join(rootDir, 'etc/pxeroot/nodes.yaml'), 'utf8')) as {nodes: []}).nodes
}

describe.each(CASES)('nodes clone on a loop-mounted $fs', ({fs: fsType, auto, forced, refused}) => {
  let loop: LoopFs
  let rootDir: string
  let source: string
  const nodeRoot = (name: string) => path.join(rootDir, 'srv/nodes', name)

  beforeAll(async () => {
    loop = await loopFs(fsType)
    rootDir = path.join(loop.mnt, 'root')
    await writeSite(rootDir)
    source = await makeRevision(rootDir, 'lab', 1, makeSyntheticTree, fsType === 'btrfs')
  })
  afterAll(async () => {
    await loop?.cleanup()
  })

  it(`clones 3 nodes by ${auto}, each identical to the revision except its identity, and distinct machines`, async () => {
    const ctx = context(rootDir)
    const result = await cloneNodes(ctx, {count: 3})
    expect(result.method).toBe(auto)
    expect(result.created.map((c) => [c.name, c.ip])).toEqual([['node01', '192.168.0.200'], ['node02', '192.168.0.201'], ['node03', '192.168.0.202']])

    const golden = attributeDump(source)
    expect(golden.caps).toContain('usr/bin/ping cap_net_raw=ep')
    for (const name of ['node01', 'node02', 'node03']) {
      expect(treeDifferences(source, nodeRoot(name))).toEqual([])
      expect(attributeDump(nodeRoot(name))).toEqual(golden)
      const dev = await fs.stat(path.join(nodeRoot(name), 'dev/null'))
      expect([dev.isCharacterDevice(), dev.rdev]).toEqual([true, (await fs.stat(path.join(source, 'dev/null'))).rdev])
      const [a, b] = await Promise.all(['usr/bin/hl1', 'usr/bin/hl2'].map((p) => fs.stat(path.join(nodeRoot(name), p))))
      expect(a.ino).toBe(b.ino)
      expect((await fs.stat(path.join(nodeRoot(name), 'var/lib/sparse.img'))).blocks).toBeLessThan(1024)
    }

    const ids = await Promise.all(['node01', 'node02', 'node03'].map(async (name) => ({
      hostname: (await fs.readFile(path.join(nodeRoot(name), 'etc/hostname'), 'utf8')).trim(),
      hosts: await fs.readFile(path.join(nodeRoot(name), 'etc/hosts'), 'utf8'),
      resolv: await fs.readFile(path.join(nodeRoot(name), 'etc/resolv.conf'), 'utf8'),
      machineId: (await fs.readFile(path.join(nodeRoot(name), 'etc/machine-id'), 'utf8')).trim(),
      dbus: await fs.readlink(path.join(nodeRoot(name), 'var/lib/dbus/machine-id')),
      keys: await Promise.all(['ed25519', 'ecdsa'].map((t) => fs.readFile(path.join(nodeRoot(name), `etc/ssh/ssh_host_${t}_key.pub`), 'utf8'))),
      keyMode: (await fs.stat(path.join(nodeRoot(name), 'etc/ssh/ssh_host_ed25519_key'))).mode & 0o777,
      rsa: await fs.stat(path.join(nodeRoot(name), 'etc/ssh/ssh_host_rsa_key')).then(() => true, () => false),
    })))
    expect(ids.map((i) => i.hostname)).toEqual(['node01', 'node02', 'node03'])
    for (const id of ids) {
      expect(id.hosts).toMatch(new RegExp(`^127\\.0\\.1\\.1\\t${id.hostname}\\.exemplo\\.com ${id.hostname}$`, 'm'))
      expect(id.hosts).toMatch(/^192\.168\.0\.10\t/m)
      // The site's resolvers: a booted node can resolve names (apt-get update works).
      expect(id.resolv.split('\n').filter((l) => /^(search|nameserver) /.test(l))).toEqual(['search exemplo.com', 'nameserver 192.168.0.10', 'nameserver 8.8.8.8'])
      expect(id.machineId).toMatch(/^[0-9a-f]{32}$/)
      expect(id.dbus).toBe('/etc/machine-id')
      expect(id.keyMode).toBe(0o600)
      expect(id.rsa).toBe(false)
      expect(id.keys.join()).not.toContain('IMAGE KEY')
    }
    expect(new Set(ids.map((i) => i.machineId)).size).toBe(3)
    expect(new Set(ids.flatMap((i) => i.keys)).size).toBe(6)

    const inv = await inventory(rootDir)
    expect(inv.map((n) => [n.name, n.image, n.clone?.method, n.clone?.machineId])).toEqual(ids.map((i) => [i.hostname, 'lab@1', auto, i.machineId]))
    const knownHosts = await fs.readFile(path.join(rootDir, KNOWN_HOSTS_FILE), 'utf8')
    expect(knownHosts).toMatch(/^node02,node02\.exemplo\.com,192\.168\.0\.201 ssh-ed25519 /m)
    expect(await fs.readFile(path.join(nodeRoot('node03'), 'etc/ssh/ssh_known_hosts'), 'utf8')).toBe(knownHosts)
    // The boot configuration followed: each node is exported and has its pxelinux entry.
    const exportsText = await fs.readFile(path.join(rootDir, 'etc/exports.d/pxeroot.exports'), 'utf8')
    expect(exportsText).toContain('/srv/nodes/node03 192.168.0.202(')
    expect(await fs.readFile(path.join(rootDir, 'var/lib/tftpboot/pxelinux.cfg/C0A800CA'), 'utf8')).toContain('pxeroot/lab/1/vmlinuz')
    // No work-in-progress names left beside the roots.
    expect((await fs.readdir(path.join(rootDir, 'srv/nodes'))).sort()).toEqual(['node01', 'node02', 'node03'])
  })

  it('is idempotent: the same count again creates nothing and leaves the roots alone', async () => {
    const before = (await fs.stat(path.join(nodeRoot('node02'), 'etc/machine-id'))).mtimeMs
    const result = await cloneNodes(context(rootDir), {count: 3})
    expect(result.created).toEqual([])
    expect(result.existing).toEqual(['node01', 'node02', 'node03'])
    expect((await fs.stat(path.join(nodeRoot('node02'), 'etc/machine-id'))).mtimeMs).toBe(before)
  })

  it.each(forced)('--method %s also produces an identical root', async (method) => {
    const count = (await inventory(rootDir)).length + 1
    const result = await cloneNodes(context(rootDir), {count, method})
    expect(result.method).toBe(method)
    const name = result.created[0].name
    expect(treeDifferences(source, nodeRoot(name))).toEqual([])
    expect(attributeDump(nodeRoot(name))).toEqual(attributeDump(source))
  })

  it.each(refused)('--method %s is refused on this filesystem before anything is created', async (method) => {
    const before = await fs.readFile(path.join(rootDir, 'etc/pxeroot/nodes.yaml'), 'utf8')
    const count = (await inventory(rootDir)).length + 1
    await expect(cloneNodes(context(rootDir), {count, method})).rejects.toThrow(new RegExp(`--method ${method}`))
    expect(await fs.readFile(path.join(rootDir, 'etc/pxeroot/nodes.yaml'), 'utf8')).toBe(before)
  })

  it('--dry-run shows the plan and creates nothing', async () => {
    const before = (await fs.readdir(path.join(rootDir, 'srv/nodes'))).sort()
    const result = await cloneNodes(context(rootDir), {count: 8, dryRun: true})
    expect(result.created.length).toBe(8 - before.length)
    expect(result.apply?.changes.length).toBeGreaterThan(0)
    expect((await fs.readdir(path.join(rootDir, 'srv/nodes'))).sort()).toEqual(before)
    expect(sh('findmnt', ['-rno', 'TARGET']).split('\n').some((m) => m.startsWith(rootDir))).toBe(false)
  })
})
