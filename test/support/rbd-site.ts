/**
 * An rbd site for a test file: a temp --root with the golden site, its revisions and roots in a
 * pool of its own on this run's shared cluster (test/support/ceph.ts), prepared by pxeroot's own
 * `storage prepare --rbd`. The pool is the file's alone (created and deleted here), so files never
 * see each other's images. The cluster's ceph.conf is a host path under the root (a symlink to
 * the cluster's), as a site names it.
 */
import {randomBytes} from 'node:crypto'
import {promises as fs} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {execa} from 'execa'

import StoragePrepare from '../../src/commands/storage/prepare.js'
import ImageExport from '../../src/commands/image/export.js'
import ImageImport from '../../src/commands/image/import.js'
import {loadSite} from '../../src/config/site-file.js'
import {type SiteModel} from '../../src/config/site.js'
import {type Context} from '../../src/system/context.js'
import {afterAll, beforeAll} from 'vitest'

import {sharedCluster, type TestCluster} from './ceph.js'
import {CACHE, goldenImage, goldenSiteText, removeGoldenRoot} from './golden.js'
import {underLockWaiting} from './lock-wait.js'
import {runCommand} from './run-command.js'
import {testContext} from './tmp-root.js'

export const CEPH_CONF = '/etc/ceph/ceph.conf'

export interface RbdSite {
  dir: string
  pool: string
  cluster: TestCluster
  ctx: Context & {lines: string[]}
  site(): Promise<SiteModel>
  /** --root DIR, for commands. */
  root: string[]
  /** The images of a namespace of the site's pool, sorted (none when it does not exist). */
  images(namespace: string): Promise<string[]>
  namespaces(): Promise<string[]>
  cleanup(): Promise<void>
}

/** A fresh root whose site keeps revisions and roots in a new pool of the cluster. */
export async function rbdSite(cluster: TestCluster, options: {siteText?: string, prepare?: boolean} = {}): Promise<RbdSite> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pxeroot-rbd-'))
  await fs.mkdir(path.join(dir, 'etc/pxeroot'), {recursive: true})
  await fs.mkdir(path.join(dir, 'etc/ceph'), {recursive: true})
  await fs.writeFile(path.join(dir, 'etc/pxeroot/pxeroot.yaml'), options.siteText ?? goldenSiteText())
  await fs.symlink(cluster.conf, path.join(dir, CEPH_CONF))
  const pool = `t-${path.basename(dir).slice(-6).toLowerCase()}-${randomBytes(2).toString('hex')}`
  await cluster.ceph(['osd', 'pool', 'create', pool, '8'])
  const root = ['--root', dir]
  const s: RbdSite = {
    dir, pool, cluster, root,
    ctx: testContext(dir),
    site: () => loadSite(s.ctx.root),
    images: async (ns) => (await cluster.rbd(['ls', `${pool}/${ns}`]).catch(() => '')).split('\n').filter(Boolean).sort(),
    namespaces: async () => (JSON.parse(await cluster.rbd(['namespace', 'ls', pool, '--format', 'json'])) as {name: string}[]).map((n) => n.name).sort(),
    async cleanup() {
      await cluster.ceph(['osd', 'pool', 'delete', pool, pool, '--yes-i-really-really-mean-it']).catch(() => undefined)
      // This site's node keys only: their caps name its pool. Other files' sites share the cluster
      // (and often the node names) and may be running.
      const auth = JSON.parse(await cluster.ceph(['auth', 'ls', '--format', 'json']).catch(() => '{}')) as {auth_dump?: {entity: string, caps?: {osd?: string}}[]}
      for (const {entity} of (auth.auth_dump ?? []).filter((e) => e.entity.startsWith('client.') && (e.caps?.osd ?? '').includes(`pool=${pool} namespace=`))) {
        await cluster.ceph(['auth', 'del', entity]).catch(() => undefined)
      }
      await execa('rm', ['-rf', '--one-file-system', '--', dir])
    },
  }
  if (options.prepare !== false) {
    const r = await runCommand(StoragePrepare, ['--rbd', pool, '--ceph-conf', CEPH_CONF, '--netns', cluster.namespace, ...root])
    if (r.code !== 0) throw new Error(`storage prepare --rbd failed (${r.code}): ${r.error?.message}`)
  }
  return s
}

/** For every test of the calling file: the run's cluster and an rbd site of its own holding the
 * golden revision as debian-bookworm@1 (made before the first test, removed after the last). */
export function goldenRbdSite(): {cluster: TestCluster, site: RbdSite} {
  const holder = {} as {cluster: TestCluster, site: RbdSite}
  beforeAll(async () => {
    holder.cluster = await sharedCluster()
    holder.site = await rbdSite(holder.cluster)
    await importGolden(holder.site)
  }, 900_000)
  afterAll(async () => {
    await holder.site?.cleanup()
  })
  return holder
}

/** The golden revision as an `image export` archive, made once per golden build and kept beside it. */
export async function goldenArchive(): Promise<string> {
  const g = await goldenImage()
  try {
    const key = (await fs.readlink(g.root.resolve(path.posix.join(g.site.paths.images, g.ref.image)))).split('/').find((p) => p.startsWith('golden-'))!
    const file = path.join(CACHE, `${key}.tar.zst`)
    return await underLockWaiting(`${file}.lock`, 'the golden archive', {waitMs: 10 * 60_000, pollMs: 2000}, async () => {
      if (await fs.stat(file).then(() => true, () => false)) return file
      const r = await runCommand(ImageExport, [`${g.ref.image}@${g.ref.revision}`, `${file}.tmp`, '--root', g.rootPrefix, '--force'])
      if (r.code !== 0) throw new Error(`golden export failed: ${r.error?.message}`)
      await fs.rename(`${file}.tmp`, file)
      return file
    })
  } finally {
    await removeGoldenRoot(g)
  }
}

/** Imports the golden revision into the site as NAME@1 (into its pool). */
export async function importGolden(s: RbdSite, name = 'debian-bookworm'): Promise<void> {
  const r = await runCommand(ImageImport, [await goldenArchive(), '--name', name, ...s.root])
  if (r.code !== 0) throw new Error(`image import into the rbd site failed (${r.code}): ${r.error?.message}`)
}

/** What a run could have left on this host: mounts, loop devices and processes under the root. */
export async function leftovers(dir: string): Promise<string[]> {
  const mounts = (await fs.readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => l.includes(dir)).map((l) => `mount ${l.split(' ')[4]}`)
  const loops = (await execa('losetup', ['--list', '--noheadings', '-O', 'NAME,BACK-FILE'])).stdout.split('\n').filter((l) => l.includes(dir)).map((l) => `loop ${l.trim()}`)
  const procs = (await execa('ps', ['-eo', 'pid,args'])).stdout.split('\n').filter((l) => /qemu-storage-daemon|rbd-session\.py/.test(l) && l.includes(dir)).map((l) => `process ${l.trim()}`)
  const attach = await fs.readdir(path.join(dir, 'run/pxeroot/rbd')).catch(() => [] as string[])
  return [...mounts, ...loops, ...procs, ...attach.map((d) => `attach dir ${d}`)]
}
