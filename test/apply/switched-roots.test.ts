/**
 * The server's apply tells the NFS server of a root replaced under an exported path (rebase,
 * rollback, or a switch a killed run left), once, and again on the next apply while it could
 * not. The commands here are recorded; test/storage/ganesha-switch.test.ts runs them against
 * the real NFS-Ganesha.
 */
import {promises as fs} from 'node:fs'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {applyBootConfig} from '../../src/apply/apply.js'
import {runDoctor} from '../../src/services/doctor.js'
import {switchedRoots, nextRecord} from '../../src/apply/exported-roots.js'
import {type BootNode} from '../../src/boot/model.js'
import {ExternalCommandError} from '../../src/errors.js'
import {makeRoot} from '../../src/system/paths.js'
import {execaRunner, type Runner} from '../../src/system/runner.js'
import {FIXTURES, freshRootPerTest, seedSite, testContext} from '../support/tmp-root.js'

const tmp = freshRootPerTest()

/** What tells the host's NFS server, recorded, never run. */
const TELLS_NFS = /^(dbus-send |exportfs -ra$|systemctl .*nfs-ganesha)/

/** The server's apply on the test's tree (the daemons' checkers run for real); `dbusFails` is what dbus-send answers, if it fails. */
function server(calls: string[], dbusFails?: string) {
  const real = execaRunner()
  const runner: Runner = {run: async (command, args, options) => {
    const line = [command, ...args].join(' ')
    if (command === 'systemctl' && !TELLS_NFS.test(line)) return {exitCode: 0, stdout: '', stderr: ''}
    if (!TELLS_NFS.test(line)) return real.run(command, args, options)
    calls.push(line)
    if (command === 'dbus-send' && dbusFails) throw new ExternalCommandError(command, [...args], 1, dbusFails, `${command} failed: ${dbusFails}`)
    return {exitCode: 0, stdout: '', stderr: ''}
  }}
  return {...testContext(tmp.dir, runner), root: {...makeRoot(tmp.dir), isHost: true}}
}

/** A rebase as the tree sees it: another directory under the same path. */
async function switchRoot(name: string): Promise<void> {
  const root = path.join(tmp.dir, 'srv/nodes', name)
  await fs.rename(root, `${root}.previous`)
  await fs.mkdir(root)
}

describe('apply tells the NFS server of switched roots', () => {
  it('removes only the switched export over D-Bus before the reload, once; a Ganesha that is not running has nothing to be told', async () => {
    const site = (await fs.readFile(path.join(FIXTURES, 'seed-site.yaml'), 'utf8')) + 'backends: {nfs: ganesha}\n'
    await seedSite(tmp.dir, {nodes: true, site})
    for (const n of ['node01', 'node02', 'node03']) await fs.mkdir(path.join(tmp.dir, 'srv/nodes', n), {recursive: true})
    const calls: string[] = []
    await applyBootConfig(server(calls))
    expect(calls).toEqual(['systemctl try-reload-or-restart nfs-ganesha.service'])

    calls.length = 0
    await switchRoot('node02')
    const result = await applyBootConfig(server(calls))
    expect(result.changes).toEqual([])
    const id = /# node02\nEXPORT \{\n {2}Export_Id = (\d+);/.exec(await fs.readFile(path.join(tmp.dir, 'etc/ganesha/pxeroot.conf'), 'utf8'))![1]
    expect(calls).toEqual([
      `dbus-send --system --print-reply --dest=org.ganesha.nfsd /org/ganesha/nfsd/ExportMgr org.ganesha.nfsd.exportmgr.RemoveExport uint16:${id}`,
      'systemctl try-reload-or-restart nfs-ganesha.service',
    ])
    calls.length = 0
    await applyBootConfig(server(calls))
    expect(calls).toEqual([])

    await switchRoot('node01')
    const stopped = await applyBootConfig(server(calls, 'Error org.freedesktop.DBus.Error.ServiceUnknown: The name org.ganesha.nfsd was not provided by any .service files'))
    expect(stopped.reloads.every((r) => r.ok)).toBe(true)
    expect(stopped.reloads[0].message).toBe('nothing to do')
  })

  it('a switch the server could not be told of (no system bus, --no-reload) is told by the next apply, and doctor says so until then', async () => {
    const site = (await fs.readFile(path.join(FIXTURES, 'seed-site.yaml'), 'utf8')) + 'backends: {nfs: ganesha}\n'
    await seedSite(tmp.dir, {nodes: true, site})
    await fs.mkdir(path.join(tmp.dir, 'srv/nodes/node01'), {recursive: true})
    const calls: string[] = []
    await applyBootConfig(server(calls))

    await switchRoot('node01')
    const failed = await applyBootConfig(server(calls, 'Failed to open connection to "system" message bus'))
    expect(failed.reloads.find((r) => r.action.startsWith('dbus-send'))).toMatchObject({ok: false})
    calls.length = 0
    await applyBootConfig(server(calls))
    expect(calls[0]).toMatch(/^dbus-send .*RemoveExport uint16:\d+$/)

    await switchRoot('node01')
    calls.length = 0
    expect((await applyBootConfig(server(calls), {reload: false})).reloadSkipped).toBe('--no-reload')
    expect(calls).toEqual([])
    const exportsLine = async () => (await runDoctor(server([]))).find((c) => c.check === 'exports')
    expect(await exportsLine()).toMatchObject({status: 'fail', message: expect.stringMatching(/not told .*: node01$/), fix: 'pxeroot apply'})
    await applyBootConfig(server(calls))
    expect(calls[0]).toMatch(/^dbus-send .*RemoveExport uint16:\d+$/)
    expect(await exportsLine()).toMatchObject({status: 'skip'})
  })

  it('with the kernel NFS server a switched root re-runs exportfs -ra, as a change to the exports file does', async () => {
    await seedSite(tmp.dir, {nodes: true})
    await fs.mkdir(path.join(tmp.dir, 'srv/nodes/node01'), {recursive: true})
    const calls: string[] = []
    await applyBootConfig(server(calls))
    calls.length = 0
    await switchRoot('node01')
    expect((await applyBootConfig(server(calls))).changes).toEqual([])
    expect(calls).toEqual(['exportfs -ra'])
  })
})

describe('switched roots, from the record', () => {
  const node = (name: string, exportId: number) => ({name, rootPath: `/srv/nodes/${name}`, exportId}) as BootNode
  const nodes = [node('node01', 201), node('node02', 202), node('node03', 203)]

  it('a root is switched when its recorded directory differs; new, gone and unchanged roots are not', () => {
    const recorded = {'/srv/nodes/node01': '1:10', '/srv/nodes/node02': '1:20', '/srv/nodes/gone': '1:30'}
    const now = {'/srv/nodes/node01': '1:10', '/srv/nodes/node02': '1:21', '/srv/nodes/node03': '1:40'}
    expect(switchedRoots(nodes, recorded, now)).toEqual([{exportId: 202, path: '/srv/nodes/node02'}])
    expect(nextRecord(recorded, now, [])).toEqual(now)
    expect(nextRecord(recorded, now, [{exportId: 202, path: '/srv/nodes/node02'}])['/srv/nodes/node02']).toBe('1:20')
  })
})
