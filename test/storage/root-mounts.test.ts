/**
 * Node roots NFS-Ganesha can export (issue 9, item 2): on a loop-mounted btrfs, snapshot clones
 * (subvolumes) are refused by the real ganesha.nfsd until they are bound onto themselves; apply
 * renders one owned mount unit per such root (and none for copied roots), the Ganesha backend's
 * prepare step makes the missing binds, and nodes rebase/rollback/prune/rm release a root's
 * self-bind before renaming or deleting it while still refusing any other mount in a root.
 */
import {spawnSync} from 'node:child_process'
import {promises as fs} from 'node:fs'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {applyBootConfig} from '../../src/apply/apply.js'
import {bootModel} from '../../src/apply/desired.js'
import {nfsGanesha} from '../../src/backends/nfs/ganesha.js'
import {GANESHA_ROOTS_DROP_IN, readStorageFacts, rootMountUnits, rootsNeedingSelfBind} from '../../src/backends/nfs/root-mounts.js'
import {loadSite} from '../../src/config/site-file.js'
import {loadInventory} from '../../src/inventory/inventory.js'
import {mountUnitName, systemdEscapePath} from '../../src/render/systemd/mount-unit.js'
import {cloneNodes} from '../../src/services/nodes-clone.js'
import {pruneNodes} from '../../src/services/nodes-prune.js'
import {rebaseNodes} from '../../src/services/nodes-rebase.js'
import {removeNodeAndRoot} from '../../src/services/nodes-rm.js'
import {rollbackNode} from '../../src/services/nodes-rollback.js'
import {applyReport} from '../../src/cli/apply-report.js'
import {selfBindsAt} from '../../src/system/mounts.js'
import {makeRoot} from '../../src/system/paths.js'
import {execaRunner, type Runner} from '../../src/system/runner.js'
import {context, loopFs, makeRevision, makeSyntheticTree, sh, SITE, writeSite, type LoopFs} from '../clone/helpers.js'

const isRoot = process.getuid?.() === 0
const GANESHA_SITE = `${SITE}backends:\n  nfs: ganesha\n`

function mounted(dir: string): boolean {
  return spawnSync('mountpoint', ['-q', dir]).status === 0
}

describe('systemd mount unit names', () => {
  it('escape paths exactly as systemd-escape --path does', () => {
    const paths = ['/srv/nodes/node01', '/srv/nodes/rack-1', '/srv/pxeroot-storage', '/var/lib/x.y/.hidden', '/srv/nodes/nø', '/srv//nodes/', '/']
    const expected = sh('systemd-escape', ['--path', ...paths]).trim().split(/\s+/)
    expect(paths.map(systemdEscapePath)).toEqual(expected)
    expect(mountUnitName('/srv/nodes/node-01')).toBe('srv-nodes-node\\x2d01.mount')
  })

  it('a root needs a self-bind only when it exists, is on btrfs and no mount point shows its st_dev', () => {
    const nodes = ['/n/a', '/n/b', '/n/c', '/n/d'].map((rootPath) => ({rootPath}))
    const facts = {
      roots: new Map([['/n/a', {dev: 50, btrfs: true}], ['/n/b', {dev: 42, btrfs: true}], ['/n/c', {dev: 60, btrfs: false}]]),
      mountedDevs: new Set([42]),
    }
    expect(rootsNeedingSelfBind(nodes, facts)).toEqual(['/n/a'])
  })
})

describe.skipIf(!isRoot)('node roots under NFS-Ganesha on a loop-mounted btrfs', () => {
  let loop: LoopFs
  let rootDir: string
  const nodeRoot = (name: string) => path.join(rootDir, 'srv/nodes', name)
  const unitFile = (name: string) => path.join(rootDir, 'etc/systemd/system', mountUnitName(`/srv/nodes/${name}`))

  beforeAll(async () => {
    loop = await loopFs('btrfs', 768)
    rootDir = path.join(loop.mnt, 'root')
    await writeSite(rootDir, GANESHA_SITE)
    await makeRevision(rootDir, 'lab', 1, makeSyntheticTree, true)
    await cloneNodes(context(rootDir), {count: 2})
    await cloneNodes(context(rootDir), {count: 3, method: 'copy'})
  }, 120_000)
  afterAll(async () => {
    if (!loop) return
    for (const l of (await fs.readFile('/proc/self/mountinfo', 'utf8')).split('\n').map((x) => x.split(' ')[4]).filter((m) => m?.startsWith(`${loop.mnt}/`)).reverse()) {
      spawnSync('umount', ['-l', l])
    }
    await loop.cleanup()
  })

  it('renders a bind-mount unit for each snapshot root and none for the copied one, with a drop-in for nfs-ganesha.service', async () => {
    const ctx = context(rootDir)
    const units = (await fs.readdir(path.join(rootDir, 'etc/systemd/system'))).sort()
    expect(units).toEqual(['nfs-ganesha.service.d', mountUnitName('/srv/nodes/node01'), mountUnitName('/srv/nodes/node02')].sort())
    const unit = await fs.readFile(unitFile('node01'), 'utf8')
    expect(unit).toContain('[Mount]\nWhat=/srv/nodes/node01\nWhere=/srv/nodes/node01\nType=none\nOptions=bind\n')
    expect(unit).toContain('Before=nfs-ganesha.service')
    expect(await fs.readFile(path.join(rootDir, GANESHA_ROOTS_DROP_IN), 'utf8'))
      .toContain('Wants=srv-nodes-node01.mount srv-nodes-node02.mount\nAfter=srv-nodes-node01.mount srv-nodes-node02.mount\n')
    // systemd's own checker accepts the unit (a mount unit's name must match its Where=).
    const dir = await fs.mkdtemp(path.join(loop.mnt, 'verify-'))
    const where = path.join(dir, 'srv/nodes/node01')
    await fs.mkdir(where, {recursive: true})
    const file = path.join(dir, mountUnitName(where))
    await fs.writeFile(file, unit.replaceAll('/srv/nodes/node01', where))
    const verify = spawnSync('systemd-analyze', ['verify', file], {encoding: 'utf8'})
    expect(verify.stderr).toBe('')
    expect(verify.status).toBe(0)
    // Under --root nothing was mounted: that is the server's job (apply on /) or the lab's.
    expect(mounted(nodeRoot('node01'))).toBe(false)
    expect((await applyBootConfig(ctx)).changes).toEqual([])
  })

  it('the real ganesha.nfsd refuses the snapshot roots until the Ganesha prepare step binds them, and exports them after', async () => {
    const ctx = context(rootDir)
    const before = await ganeshaExports(rootDir, ['node01', 'node03'])
    expect(before.log).toMatch(/resolve_posix_filesystem\(.*node01\) returned No such file or directory/)
    expect(before.log).not.toMatch(/resolve_posix_filesystem\(.*node03\)/)

    const model = await bootModel(ctx, await loadSite(ctx.root), await loadInventory(ctx.root))
    const bound = await nfsGanesha.prepare!(ctx, model)
    expect(bound).toEqual([expect.stringContaining('bound /srv/nodes/node01 onto itself'), expect.stringContaining('bound /srv/nodes/node02 onto itself')])
    expect(mounted(nodeRoot('node01'))).toBe(true)
    expect(mounted(nodeRoot('node03'))).toBe(false)
    // Idempotent: nothing is stacked, and the bound roots still count as needing their unit.
    expect(await nfsGanesha.prepare!(ctx, model)).toEqual([])
    expect(await selfBindsAt(nodeRoot('node01'))).toHaveLength(1)
    const again = await bootModel(ctx, await loadSite(ctx.root), await loadInventory(ctx.root))
    expect(again.selfBinds).toEqual(['/srv/nodes/node01', '/srv/nodes/node02'])
    expect(rootMountUnits(again).map((f) => f.path)).toEqual(rootMountUnits(model).map((f) => f.path))

    const after = await ganeshaExports(rootDir, ['node01', 'node03'])
    expect(after.log).not.toMatch(/resolve_posix_filesystem/)
    expect(after.showmount).toEqual(expect.arrayContaining([expect.stringContaining('/srv/nodes/node01'), expect.stringContaining('/srv/nodes/node03')]))
  }, 120_000)

  it('rebase, rollback and prune release a root\'s self-bind before renaming or deleting it', async () => {
    const ctx = context(rootDir)
    await makeRevision(rootDir, 'lab', 2, makeSyntheticTree, true)
    expect(mounted(nodeRoot('node01'))).toBe(true)
    const rebased = await rebaseNodes(ctx, {nodes: ['node01'], image: 'lab@2'})
    expect(rebased.rebased.map((r) => r.name)).toEqual(['node01'])
    expect(mounted(nodeRoot('node01'))).toBe(false)
    expect(mounted(nodeRoot('node01.previous'))).toBe(false)
    // The unit still describes the (new) root; the server's apply binds it again.
    expect(await fs.readFile(unitFile('node01'), 'utf8')).toContain('Where=/srv/nodes/node01')

    await nfsGanesha.prepare!(ctx, await bootModel(ctx, await loadSite(ctx.root), await loadInventory(ctx.root)))
    expect(mounted(nodeRoot('node01'))).toBe(true)
    await rollbackNode(ctx, 'node01')
    expect((await loadInventory(ctx.root)).nodes.find((n) => n.name === 'node01')?.image).toBe('lab@1')
    expect(mounted(nodeRoot('node01'))).toBe(false)

    sh('mount', ['--bind', nodeRoot('node01.previous'), nodeRoot('node01.previous')])
    expect((await pruneNodes(ctx, ['node01'])).pruned).toEqual(['node01'])
    await expect(fs.stat(nodeRoot('node01.previous'))).rejects.toThrow(/ENOENT/)
  })

  it('apply on the server binds the roots that are missing before reloading Ganesha, even when no file changed', async () => {
    // The server's own apply (root "/"), pointed at this test's tree: what would tell the host's
    // daemons (systemctl, the system bus) is recorded, not run.
    const calls: string[] = []
    const real = execaRunner()
    const runner: Runner = {run: async (command, args, options) => {
      if (command !== 'systemctl' && command !== 'dbus-send') return real.run(command, args, options)
      calls.push([command, ...args].join(' '))
      return {exitCode: 0, stdout: '', stderr: ''}
    }}
    const ctx = {...context(rootDir), runner, root: {...makeRoot(rootDir), isHost: true}}
    expect(mounted(nodeRoot('node01'))).toBe(false)
    const result = await applyBootConfig(ctx)
    expect(result.changes).toEqual([])
    expect(result.prepared).toEqual([expect.stringContaining('bound /srv/nodes/node01 onto itself')])
    expect(mounted(nodeRoot('node01'))).toBe(true)
    expect(calls).toEqual(['systemctl try-reload-or-restart nfs-ganesha.service'])
    expect(applyReport(result)).toContain('bound /srv/nodes/node01 onto itself')

    const again = await applyBootConfig(ctx)
    expect(again.prepared).toBeUndefined()
    expect(calls).toHaveLength(1)
    expect(await selfBindsAt(nodeRoot('node01'))).toHaveLength(1)
  })

  it('nodes rm releases the self-bind and removes the root and its unit, but still refuses a root with another mount in it', async () => {
    const ctx = context(rootDir)
    expect(mounted(nodeRoot('node02'))).toBe(true)
    const removed = await removeNodeAndRoot(ctx, 'node02', {})
    expect(removed.removedRoots).toEqual(['/srv/nodes/node02'])
    expect(removed.changes).toEqual(expect.arrayContaining([{path: `/etc/systemd/system/${mountUnitName('/srv/nodes/node02')}`, action: 'delete'}]))
    await expect(fs.stat(nodeRoot('node02'))).rejects.toThrow(/ENOENT/)
    await expect(fs.stat(unitFile('node02'))).rejects.toThrow(/ENOENT/)

    // A foreign mount inside a root is never unmounted for the admin.
    await fs.mkdir(path.join(nodeRoot('node01'), 'proc'), {recursive: true})
    sh('mount', ['-t', 'tmpfs', 'foreign', path.join(nodeRoot('node01'), 'proc')])
    try {
      await expect(removeNodeAndRoot(ctx, 'node01', {})).rejects.toThrow(/has mounts under it .*node01\/proc/)
      expect(mounted(path.join(nodeRoot('node01'), 'proc'))).toBe(true)
    } finally {
      sh('umount', [path.join(nodeRoot('node01'), 'proc')])
    }
    expect((await readStorageFacts(ctx.root, [{rootPath: '/srv/nodes/node03'}])).roots.get('/srv/nodes/node03')?.btrfs).toBe(true)
  })
})

/**
 * Starts the real ganesha.nfsd on the exports pxeroot rendered (Path = the disk path under the
 * test's --root), in private network and mount namespaces with its own rpcbind, and returns its
 * log and what showmount sees. Bounded; every process ends with the namespace's shell.
 */
const ADDR = '10.88.77.1'

async function ganeshaExports(rootDir: string, nodes: string[]): Promise<{log: string, showmount: string[]}> {
  const dir = await fs.mkdtemp(path.join(path.dirname(rootDir), 'ganesha-'))
  const exportsText = await fs.readFile(path.join(rootDir, 'etc/ganesha/pxeroot.conf'), 'utf8')
  const blocks = exportsText.split(/^# /m).filter((b) => nodes.some((n) => b.startsWith(`${n}\n`)))
  const conf = [
    `NFS_CORE_PARAM { Bind_Addr = ${ADDR}; Protocols = 3, 4; Enable_NLM = false; Enable_RQUOTA = false; }`,
    `NFSV4 { Graceless = true; RecoveryRoot = "${dir}/recovery"; }`,
    ...blocks.map((b) => b.replace(/Path = "([^"]+)"/, (_, p: string) => `Path = "${path.join(rootDir, p)}"`).replace(/Clients = [^;]+;/, `Clients = ${ADDR};`).replace(/^[^\n]*\n/, '')),
  ].join('\n')
  await fs.writeFile(path.join(dir, 'ganesha.conf'), conf)
  await fs.mkdir(path.join(dir, 'recovery'))
  const script = [
    'mount -t tmpfs pxeroot-test-run /run',
    // getaddrinfo (AI_ADDRCONFIG) finds no address for Bind_Addr in a namespace with 127.0.0.1 alone.
    `ip link set lo up && ip addr add ${ADDR}/32 dev lo`,
    'rpcbind -f -w & RPC=$!',
    'sleep 0.5',
    `ganesha.nfsd -F -L "${dir}/ganesha.log" -f "${dir}/ganesha.conf" -p "${dir}/ganesha.pid" & G=$!`,
    `for i in $(seq 1 100); do grep -q "NFS SERVER INITIALIZED" "${dir}/ganesha.log" 2>/dev/null && break; sleep 0.2; done`,
    `showmount -e ${ADDR}`,
    'kill $G; wait $G; kill $RPC; wait $RPC',
  ].join('\n')
  const r = spawnSync('timeout', ['90', 'unshare', '--net', '--mount', '--propagation', 'private', 'sh', '-c', script], {encoding: 'utf8'})
  const log = await fs.readFile(path.join(dir, 'ganesha.log'), 'utf8').catch(() => '')
  await fs.rm(dir, {recursive: true, force: true})
  expect(log, `ganesha did not start: ${r.stderr}`).toContain('NFS SERVER INITIALIZED')
  return {log, showmount: r.stdout.split('\n').filter((l) => l.startsWith('/'))}
}
