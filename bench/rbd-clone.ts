// Benchmark of `nodes clone N` on an rbd site (not a test). Run as root, after `npm run build`:
//   node --import tsx bench/rbd-clone.ts             # 100 nodes
//   BENCH_NODES=20 BENCH_CP=3 node --import tsx bench/rbd-clone.ts
// In one run, on one tree (PXEROOT_BENCH_TREE, default: the test suite's golden debian-bookworm
// root): a throwaway single-host Ceph (pxeroot's own `lab ceph`, stopped and purged at the end),
// the tree imported as revision lab@1 of an rbd site, and `nodes clone N` timed as a whole process
// (bin/run.js: start-up, lock, clones in their own namespaces, keys, identity written with each
// clone attached, journal, apply); beside it the same `nodes clone N` on a loop-mounted btrfs
// (snapshots) and `cp -a` of the tree (BENCH_CP copies, each timed with its sync: one node's cost
// of a full copy). Prints the cost per node of each, their ratios, what the clones hold (pool
// bytes, btrfs bytes), the CPU the cluster's daemons spent on the rbd run and the load average.
import {execa} from 'execa'
import {spawnSync} from 'node:child_process'
import {promises as fs} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {startCephLab, stopCephLab} from '../src/lab/ceph.js'
import {makeContext} from '../src/system/context.js'

const N = Number(process.env.BENCH_NODES ?? 100)
const CP = Number(process.env.BENCH_CP ?? 3)
const BIN = path.resolve(import.meta.dirname, '../bin/run.js')
const ADDRESS = '10.213.99.1/24'
const SITE = `server: 10.77.0.1\nsubnet: 10.77.0.0/16\nnodes:\n  range: 10.77.1.1-10.77.4.250\nboot:\n  image: lab\n`

function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, {encoding: 'utf8', maxBuffer: 1 << 26})
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`)
  return r.stdout
}

async function goldenTree(): Promise<string> {
  if (process.env.PXEROOT_BENCH_TREE) return process.env.PXEROOT_BENCH_TREE
  const cache = '/var/tmp/pxeroot-test-cache'
  const builds = (await fs.readdir(cache)).filter((d) => d.startsWith('golden-') && !d.endsWith('.lock') && !d.endsWith('.zst'))
  const ready = await Promise.all(builds.map(async (d) => ({d, st: await fs.stat(path.join(cache, d, 'ready.json')).catch(() => undefined)})))
  const newest = ready.filter((r) => r.st).sort((a, b) => b.st!.mtimeMs - a.st!.mtimeMs)[0]
  if (!newest) throw new Error('no golden image in /var/tmp/pxeroot-test-cache: run a test that builds it, or set PXEROOT_BENCH_TREE')
  return path.join(cache, newest.d, 'root/srv/pxeroot/images/debian-bookworm/1/rootfs')
}

/** A whole pxeroot process; wall seconds. */
async function pxeroot(args: string[]): Promise<number> {
  const t = performance.now()
  const r = await execa(process.execPath, [BIN, ...args], {reject: false, env: {NODE_ENV: 'production'}})
  if (r.exitCode !== 0) throw new Error(`pxeroot ${args.join(' ')} failed (${r.exitCode}): ${r.stderr.split('\n').slice(-3).join(' | ')}`)
  return (performance.now() - t) / 1000
}

const cpuOf = async (pattern: RegExp) => {
  let ticks = 0
  for (const pid of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue
    const cmd = await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')
    if (!pattern.test(cmd.replaceAll('\0', ' ')) || cmd.startsWith('timeout')) continue
    const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '')
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    ticks += Number(f[11]) + Number(f[12])
  }
  return ticks / 100
}
const load = () => os.loadavg().map((l) => l.toFixed(1)).join(' ')

const tree = await goldenTree()
const base = await fs.mkdtemp('/var/tmp/pxeroot-bench-rbd-')
const ctx = makeContext({root: '/', log: () => {}})
const cephDir = path.join(base, 'ceph')
const results: string[] = []
let loop: string | undefined
try {
  console.error(`tree ${tree} (${sh('du', ['-sh', '--one-file-system', tree]).split('\t')[0]}); ${N} nodes; load ${load()}`)
  // The btrfs site: the tree as a read-only subvolume revision, roots as snapshots.
  const img = path.join(base, 'btrfs.img')
  const mnt = path.join(base, 'btrfs')
  await fs.mkdir(mnt)
  sh('truncate', ['-s', '12G', img])
  sh('mkfs.btrfs', ['-q', '-f', img])
  loop = sh('losetup', ['-f', '--show', img]).trim()
  sh('mount', [loop, mnt])
  const local = path.join(mnt, 'root')
  await fs.mkdir(path.join(local, 'etc/pxeroot'), {recursive: true})
  await fs.writeFile(path.join(local, 'etc/pxeroot/pxeroot.yaml'), SITE)
  await fs.mkdir(path.join(local, 'srv/pxeroot/images/lab/1'), {recursive: true})
  sh('btrfs', ['subvolume', 'create', path.join(local, 'srv/pxeroot/images/lab/1/w')])
  sh('rsync', ['-aHAX', '--numeric-ids', `${tree}/`, path.join(local, 'srv/pxeroot/images/lab/1/w/')])
  sh('btrfs', ['subvolume', 'snapshot', '-r', path.join(local, 'srv/pxeroot/images/lab/1/w'), path.join(local, 'srv/pxeroot/images/lab/1/rootfs')])
  sh('btrfs', ['subvolume', 'delete', path.join(local, 'srv/pxeroot/images/lab/1/w')])
  const manifest = JSON.parse(await fs.readFile(path.join(tree, '../manifest.json'), 'utf8')) as Record<string, unknown>
  await fs.writeFile(path.join(local, 'srv/pxeroot/images/lab/1/manifest.json'), JSON.stringify({...manifest, image: 'lab', revision: 1, storage: 'btrfs'}))
  await fs.symlink('1', path.join(local, 'srv/pxeroot/images/lab/current'))
  const archive = path.join(base, 'lab.tar.zst')
  await pxeroot(['image', 'export', 'lab@1', archive, '--root', local])

  // The rbd site, on a throwaway cluster.
  const cluster = await startCephLab(ctx, undefined, {dir: cephDir, address: ADDRESS, osdGiB: 30, lifetimeMinutes: 120})
  const remote = path.join(base, 'rbd')
  await fs.mkdir(path.join(remote, 'etc/pxeroot'), {recursive: true})
  await fs.mkdir(path.join(remote, 'etc/ceph'), {recursive: true})
  await fs.writeFile(path.join(remote, 'etc/pxeroot/pxeroot.yaml'), SITE)
  await fs.symlink(cluster.conf, path.join(remote, 'etc/ceph/ceph.conf'))
  await pxeroot(['storage', 'prepare', '--rbd', cluster.pool, '--netns', cluster.namespace, '--root', remote])
  await pxeroot(['image', 'import', archive, '--root', remote])

  const daemons = /ceph-(osd|mon|mgr) .*ceph\.conf/
  const cpu0 = await cpuOf(daemons)
  const loadBefore = load()
  const rbd = await pxeroot(['nodes', 'clone', String(N), '--root', remote])
  const cephCpu = await cpuOf(daemons) - cpu0
  const loadAfter = load()
  const pool = JSON.parse(sh('nsenter', [`--net=/run/netns/${cluster.namespace}`, 'ceph', '--conf', cluster.conf, 'df', '--format', 'json'])) as {pools: {name: string, stats: {stored: number}}[]}
  // Pacific's rbd du prints no totals for one image: the sum of its lines (the image and its snapshot).
  const revision = JSON.parse(sh('nsenter', [`--net=/run/netns/${cluster.namespace}`, 'rbd', '--conf', cluster.conf, 'du', '--format', 'json', `${cluster.pool}/revisions/lab-1`])) as {images: {used_size: number}[]}
  const revisionBytes = revision.images.reduce((sum, i) => sum + i.used_size, 0)
  const rbdBytes = pool.pools.find((p) => p.name === cluster.pool)!.stats.stored - revisionBytes

  sh('btrfs', ['filesystem', 'sync', mnt])
  const before = Number(sh('btrfs', ['filesystem', 'usage', '-b', mnt]).match(/Used:\s+(\d+)/)![1])
  const btrfs = await pxeroot(['nodes', 'clone', String(N), '--root', local])
  sh('btrfs', ['filesystem', 'sync', mnt])
  const btrfsBytes = Number(sh('btrfs', ['filesystem', 'usage', '-b', mnt]).match(/Used:\s+(\d+)/)![1]) - before

  const copies: number[] = []
  for (let i = 0; i < CP; i++) {
    const dst = path.join(mnt, `cp-${i}`)
    sh('sync', [])
    const t = performance.now()
    sh('cp', ['-a', '--reflink=never', tree, dst])
    sh('sync', ['-f', mnt])
    copies.push((performance.now() - t) / 1000)
    sh('rm', ['-rf', '--one-file-system', dst])
  }
  const cp = copies.sort((a, b) => a - b)[Math.floor(copies.length / 2)]
  const per = (s: number) => `${(s / N * 1000).toFixed(0)} ms`
  results.push(
    `| method | ${N} nodes, s | per node | vs cp -a | disk per node |`,
    '|---|---|---|---|---|',
    `| rbd clone + identity (\`nodes clone ${N}\`) | ${rbd.toFixed(1)} | ${per(rbd)} | ${(cp / (rbd / N)).toFixed(1)}× | ${(rbdBytes / N / 2 ** 20).toFixed(1)} MiB in the pool |`,
    `| btrfs snapshot + identity (\`nodes clone ${N}\`) | ${btrfs.toFixed(1)} | ${per(btrfs)} | ${(cp / (btrfs / N)).toFixed(1)}× | ${(btrfsBytes / N / 2 ** 20).toFixed(2)} MiB |`,
    `| \`cp -a --reflink=never\` (median of ${CP}) | ${(cp * N).toFixed(0)} (×${N}) | ${(cp * 1000).toFixed(0)} ms | 1× | the tree |`,
    '',
    `rbd run: the cluster's daemons spent ${cephCpu.toFixed(1)} s of CPU; load average ${loadBefore} before, ${loadAfter} after.`,
  )
  console.log(results.join('\n'))
} finally {
  await stopCephLab(ctx, cephDir, {purge: true}).catch((e: Error) => console.error(`stopping the cluster: ${e.message}`))
  for (const m of (await fs.readFile('/proc/self/mountinfo', 'utf8')).split('\n').map((l) => l.split(' ')[4]).filter((m) => m?.startsWith(base)).reverse()) spawnSync('umount', ['-l', m])
  if (loop) spawnSync('losetup', ['-d', loop])
  await fs.rm(base, {recursive: true, force: true})
}
