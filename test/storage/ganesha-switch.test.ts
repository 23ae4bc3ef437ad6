/**
 * A rebased or rolled-back node is served its new root by the real NFS-Ganesha. A reload alone
 * keeps an export on the directory Ganesha opened (the old root, even once deleted), so apply
 * removes each switched export over D-Bus before the reload re-adds it from the file. Proven on
 * snapshot clones of a loop-mounted btrfs with the real ganesha.nfsd, dbus-daemon and rpcbind in
 * a private network namespace, read with libnfs's nfs-cat (no kernel NFS client here).
 *
 * The delta from a server: no systemd unit, so "systemctl try-reload-or-restart nfs-ganesha"
 * is a SIGHUP to this Ganesha (the unit's ExecReload); the system bus is a private dbus-daemon
 * (DBUS_SYSTEM_BUS_ADDRESS) with Debian's system policy.
 */
import {spawnSync} from 'node:child_process'
import {promises as fs} from 'node:fs'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {applyBootConfig} from '../../src/apply/apply.js'
import {reloadServices} from '../../src/apply/reload.js'
import {nfsGanesha} from '../../src/backends/nfs/ganesha.js'
import {rebaseNodes} from '../../src/services/nodes-rebase.js'
import {rollbackNode} from '../../src/services/nodes-rollback.js'
import {cloneNodes} from '../../src/services/nodes-clone.js'
import {makeRoot} from '../../src/system/paths.js'
import {execaRunner, type Runner} from '../../src/system/runner.js'
import {context, loopFs, makeRevision, makeSyntheticTree, sh, SITE, writeSite, type LoopFs} from '../clone/helpers.js'
import {startGanesha, type Ganesha} from '../support/ganesha-netns.js'

const isRoot = process.getuid?.() === 0
const ADDR = '10.88.78.1'
const MARKER = 'etc/pxeroot-test-revision'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe.skipIf(!isRoot)('a switched root under the real NFS-Ganesha', () => {
  let loop: LoopFs
  let rootDir: string
  let dir: string
  let ganesha: Ganesha | undefined
  /** What the server's apply told the NFS server. */
  const calls: string[] = []

  /** The server's apply (root "/") on this test's tree, with the delta above. */
  const server = () => {
    const real = execaRunner({DBUS_SYSTEM_BUS_ADDRESS: `unix:path=${dir}/bus`})
    const runner: Runner = {run: async (command, args, options) => {
      if (command === 'systemctl' || command === 'dbus-send') calls.push([command, ...args].join(' '))
      if (command === 'systemctl') return real.run('kill', ['-HUP', (await fs.readFile(path.join(dir, 'ganesha.pid'), 'utf8')).trim()], options)
      return real.run(command, args, options)
    }}
    return {...context(rootDir), runner, root: {...makeRoot(rootDir), isHost: true}}
  }

  /** node01's marker file as a node would read it over NFSv3 from Ganesha. */
  const served = () => ganesha!.cat(path.join(rootDir, 'srv/nodes/node01', MARKER))
  /** Waits (bounded) for what Ganesha serves to settle on `want`, as a reload is asynchronous. */
  const servedSoon = async (want: string) => {
    let got = served()
    for (let i = 0; i < 20 && got !== want; i++) {
      await sleep(250)
      got = served()
    }
    return got
  }

  beforeAll(async () => {
    loop = await loopFs('btrfs', 512)
    rootDir = path.join(loop.mnt, 'root')
    await writeSite(rootDir, `${SITE}backends:\n  nfs: ganesha\n`)
    for (const n of [1, 2]) {
      await makeRevision(rootDir, 'lab', n, async (d) => {
        await makeSyntheticTree(d)
        await fs.writeFile(path.join(d, MARKER), `lab@${n}\n`)
      }, true)
    }
    // The server's binds of node roots (apply's prepare step) must reach Ganesha's mount namespace.
    sh('mount', ['--make-shared', loop.mnt])
    dir = await fs.mkdtemp(path.join(loop.mnt, 'ganesha-'))
    await cloneNodes(server(), {count: 1, image: 'lab@1'})
    ganesha = await startGanesha(dir, ADDR, await fs.readFile(path.join(rootDir, 'etc/ganesha/pxeroot.conf'), 'utf8'), (p) => path.join(rootDir, p))
  }, 180_000)

  afterAll(async () => {
    await ganesha?.stop()
    if (!loop) return
    for (const l of (await fs.readFile('/proc/self/mountinfo', 'utf8')).split('\n').map((x) => x.split(' ')[4]).filter((m) => m?.startsWith(`${loop.mnt}/`)).reverse()) {
      spawnSync('umount', ['-l', l])
    }
    await loop.cleanup()
  })

  it('serves the new root after nodes rebase and after nodes rollback, removing only the switched export before the reload', async () => {
    expect(await servedSoon('lab@1')).toBe('lab@1')
    calls.length = 0
    await rebaseNodes(server(), {nodes: ['node01'], image: 'lab@2'})
    const id = /Export_Id = (\d+);/.exec(await fs.readFile(path.join(rootDir, 'etc/ganesha/pxeroot.conf'), 'utf8'))![1]
    expect(calls).toEqual([
      `dbus-send --system --print-reply --dest=org.ganesha.nfsd /org/ganesha/nfsd/ExportMgr org.ganesha.nfsd.exportmgr.RemoveExport uint16:${id}`,
      'systemctl try-reload-or-restart nfs-ganesha.service',
    ])
    expect(await servedSoon('lab@2')).toBe('lab@2')

    await rollbackNode(server(), 'node01')
    expect(await servedSoon('lab@1')).toBe('lab@1')
  }, 120_000)

  it('a reload alone keeps the old root; the apply after a rebase with --no-reload still tells Ganesha', async () => {
    await rebaseNodes(server(), {nodes: ['node01'], image: 'lab@2', reload: false})
    // What every reload did before: Ganesha rereads its file and serves the old tree.
    process.kill(Number((await fs.readFile(path.join(dir, 'ganesha.pid'), 'utf8')).trim()), 'SIGHUP')
    await sleep(1500)
    expect(served()).toBe('lab@1')

    calls.length = 0
    const result = await applyBootConfig(server())
    expect(result.changes).toEqual([])
    expect(calls[0]).toMatch(/RemoveExport uint16:\d+$/)
    expect(await servedSoon('lab@2')).toBe('lab@2')
    // Told once: the next apply has nothing to tell Ganesha.
    calls.length = 0
    await applyBootConfig(server())
    expect(calls).toEqual([])
  }, 120_000)

  it('an export Ganesha does not have (it refused the root, or was restarted since) is nothing to do', async () => {
    const results = await reloadServices(server().runner, [{backend: nfsGanesha, cause: {changed: [], retired: false, switched: [{exportId: 64_998, path: '/srv/nodes/gone'}]}}])
    expect(results).toEqual([
      expect.objectContaining({action: expect.stringContaining('RemoveExport uint16:64998'), ok: true, message: 'nothing to do'}),
      expect.objectContaining({action: 'systemctl try-reload-or-restart nfs-ganesha.service', ok: true}),
    ])
    expect(await servedSoon('lab@2')).toBe('lab@2')
  })
})
