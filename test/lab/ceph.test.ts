/**
 * `pxeroot lab ceph start|stop|status`: a throwaway single-host cluster from Debian's packages, in a
 * network namespace of its own, and the shared cluster the rbd tests use (test/support/ceph.ts).
 */
import {execa} from 'execa'
import {promises as fs} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {cephLabNamespace} from '../../src/lab/ceph-conf.js'
import {BIN, INIT, pxeroot} from '../support/cli.js'
import {cephSkipReason, clusterProcesses, sharedCluster} from '../support/ceph.js'
import {freshRootPerTest} from '../support/tmp-root.js'

const skip = await cephSkipReason()
const tmp = freshRootPerTest()

/** The built CLI, as a user runs it; bounded (a cluster start takes about 20 s, more under load). */
async function cli(...args: string[]): Promise<{code: number, stdout: string, stderr: string}> {
  const r = await execa(process.execPath, [BIN, ...args], {reject: false, timeout: 240_000, env: {NODE_ENV: 'production'}})
  return {code: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr}
}

const namespaces = async () => (await execa('ip', ['netns', 'list'])).stdout.split('\n').map((l) => l.split(' ')[0])

describe('lab ceph refusals', () => {
  it('a bad --address, or no site and no --address: exit 2, one line naming the flag, nothing made', async () => {
    const dir = path.join(tmp.dir, 'state')
    for (const [args, message] of [
      [['--address', '10.77.0.300/24'], /--address: 10\.77\.0\.300\/24 is not an IPv4 address with a prefix length/],
      [['--address', '10.77.0.253'], /--address: 10\.77\.0\.253 is not an IPv4 address with a prefix length/],
      [[], /no site file to take the cluster's address from \(name it with --address ADDR\/PREFIX/],
    ] as const) {
      const r = pxeroot(tmp.dir, 'lab', 'ceph', 'start', '--dir', '/state', ...args)
      expect(r.code, r.stderr).toBe(process.getuid?.() === 0 ? 2 : 3)
      if (process.getuid?.() === 0) expect(r.stderr).toMatch(message)
      expect(r.stderr.trim().split('\n')).toHaveLength(1)
    }
    expect(await fs.stat(dir).catch(() => undefined)).toBeUndefined()
  })

  it('status of a directory without a cluster says so and exits 0', () => {
    const r = pxeroot(tmp.dir, 'lab', 'ceph', 'status', '--dir', '/state', '--json')
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({exists: false, running: false})
  })

  it('a site file gives the address when --address is absent (refused here only for the state directory)', async () => {
    expect(pxeroot(tmp.dir, ...INIT).code).toBe(0)
    await fs.mkdir(path.join(tmp.dir, 'state'))
    await fs.writeFile(path.join(tmp.dir, 'state', 'mine'), 'x')
    const r = pxeroot(tmp.dir, 'lab', 'ceph', 'start', '--dir', '/state')
    if (process.getuid?.() !== 0) return
    // The site's address was taken (no complaint about it); the non-empty directory is refused.
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/--dir: \/.*\/state is not empty and holds no cluster of pxeroot's/)
    expect(await fs.readdir(path.join(tmp.dir, 'state'))).toEqual(['mine'])
  })
})

describe.skipIf(skip !== undefined)(`a real cluster${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('start: HEALTH_OK with pool rbd in its own namespace; rbd works in it; stop keeps the data, start again brings it back; stop --purge leaves nothing', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pxeroot-ceph-cli-'))
    const ns = cephLabNamespace(dir)
    try {
      const started = await cli('lab', 'ceph', 'start', '--dir', dir, '--address', '10.91.0.5/24', '--osd-size', '4', '--lifetime', '30')
      expect(started.code, started.stderr).toBe(0)
      expect(started.stdout).toMatch(/^Cluster up: HEALTH_OK in \d+\.\d s \(1 mon, 1 mgr, 1 OSD; pool rbd\)\.$/m)
      expect(started.stdout).toContain(`ceph.conf   ${dir}/ceph.conf`)
      expect(started.stdout).toContain(`namespace   ${ns}`)
      expect(started.stdout).toContain(`pxeroot storage prepare --rbd rbd --ceph-conf ${dir}/ceph.conf --netns ${ns}`)
      expect(await namespaces()).toContain(ns)
      // Its address exists only inside its namespace.
      expect((await execa('ip', ['-o', '-4', 'addr'])).stdout).not.toContain('10.91.0.5')
      expect((await execa('ip', ['-n', ns, '-o', '-4', 'addr', 'show', 'ceph0'])).stdout).toContain('inet 10.91.0.5/24')

      const status = JSON.parse((await cli('lab', 'ceph', 'status', '--dir', dir, '--json')).stdout)
      expect(status).toMatchObject({exists: true, running: true, health: 'HEALTH_OK', namespace: ns, monitor: '10.91.0.5:6789', pool: 'rbd'})
      expect(status.servers.map((s: {name: string}) => s.name)).toEqual(['mon.a', 'mgr.x', 'osd'])

      const rbd = (...args: string[]) => execa('nsenter', [`--net=/run/netns/${ns}`, '--', 'rbd', '--conf', `${dir}/ceph.conf`, ...args], {timeout: 60_000})
      await rbd('create', '--size', '8M', 'rbd/probe')
      expect((await rbd('ls', 'rbd')).stdout.split('\n')).toEqual(['probe'])

      const again = await cli('lab', 'ceph', 'start', '--dir', dir)
      expect(again.stdout).toMatch(/^Cluster already running/m)

      const stopped = await cli('lab', 'ceph', 'stop', '--dir', dir)
      expect(stopped.code, stopped.stderr).toBe(0)
      expect(stopped.stdout).toContain('Stopped osd, mgr.x, mon.a.')
      expect(await namespaces()).not.toContain(ns)
      expect(await clusterProcesses(dir)).toEqual([])
      expect(JSON.parse((await cli('lab', 'ceph', 'status', '--dir', dir, '--json')).stdout)).toMatchObject({exists: true, running: false})

      const restarted = await cli('lab', 'ceph', 'start', '--dir', dir)
      expect(restarted.code, restarted.stderr).toBe(0)
      expect(restarted.stdout).toMatch(/^Cluster started again: HEALTH_OK/m)
      expect((await rbd('ls', 'rbd')).stdout.split('\n')).toEqual(['probe'])

      const purged = await cli('lab', 'ceph', 'stop', '--dir', dir, '--purge')
      expect(purged.code, purged.stderr).toBe(0)
      expect(purged.stdout).toContain(`Removed ${dir}.`)
      expect(await namespaces()).not.toContain(ns)
      expect(await clusterProcesses(dir)).toEqual([])
      expect(await fs.stat(dir).catch(() => undefined)).toBeUndefined()
    } finally {
      await cli('lab', 'ceph', 'stop', '--dir', dir, '--purge')
      await fs.rm(dir, {recursive: true, force: true})
    }
  }, 600_000)

  it('the shared test cluster: one per run, healthy, images made in it are listed', async () => {
    const cluster = await sharedCluster()
    expect(await sharedCluster()).toBe(cluster)
    expect(cluster.monitor).toBe('10.77.0.253:6789')
    expect((await cluster.ceph(['health'])).trim()).toBe('HEALTH_OK')
    const image = `probe-${process.pid}`
    await cluster.rbd(['create', '--size', '8M', `rbd/${image}`])
    try {
      expect((await cluster.rbd(['ls', 'rbd'])).split('\n')).toContain(image)
    } finally {
      await cluster.rbd(['rm', '--no-progress', `rbd/${image}`])
    }
  }, 300_000)
})
