// Benchmark of `nodes clone` and `nodes rebase` (not a test). Run as root:
//   node --import tsx bench/clone.ts            # 10 nodes per method on btrfs, xfs and ext4
//   BENCH_50=1 node --import tsx bench/clone.ts # also 50 nodes
//   BENCH_RUNS=5 (default 3) runs per measurement, median printed; BENCH_FS=xfs,ext4 picks filesystems;
//   BENCH_SWEEP=1 also times the copy options the engine chose between (concurrency, rsync -S).
//   BENCH_COUNTS=100 nodes per measurement (comma-separated; overrides BENCH_50), BENCH_METHODS=btrfs
//   the methods timed, BENCH_RSYNC=0 skips the rsync baseline, BENCH_BASELINE_RUNS its own runs. Where N copies of the tree would
//   not fit, the cp/rsync baseline is rolling: each copy is timed (with its sync) and removed
//   untimed before the next, so it is still N × one copy. On btrfs, `nodes clone N` is also timed
//   as a whole process (bin/run.js: start-up, lock, journal, identity, apply; needs npm run build).
//   100 nodes on btrfs, as README reports it:
//     BENCH_FS=btrfs BENCH_COUNTS=100 BENCH_METHODS=btrfs BENCH_RSYNC=0 BENCH_RUNS=5 BENCH_BASELINE_RUNS=1 node --import tsx bench/clone.ts
//   PXEROOT_BENCH_TREE=DIR copies that tree instead of building one (e.g. the test golden rootfs).
// On ext4 it ends with the line the copy fallback is held to: `nodes clone N` (no --method: the
// engine's own pick where nothing can share extents) against `cp -a --reflink=never` ×N timed in
// the same run; the ratio must be ≥ 1.0.
// Builds (once, cached in $PXEROOT_BENCH_CACHE or /var/tmp/pxeroot-bench-cache) a real
// `debootstrap --variant=minbase bookworm` tree with linux-image-amd64 and initramfs-tools from
// the host's apt mirror; loop-mounts a fresh filesystem of each type and puts the tree there as
// image revision lab@1: the baselines (`cp -a --reflink=never` and `rsync -aHAX --numeric-ids`,
// N copies one after another) and pxeroot copy that same tree on that same filesystem. Then it
// times the whole `nodes clone N` (identity and boot-config apply included) per method, the copy
// step alone at pxeroot's concurrency, and `nodes rebase --all` of 10 nodes after an image change.
//
// Like for like: every timed run, baseline or pxeroot, starts from an empty target after
// `sync` and dropping the page, dentry and inode caches (a sparse loop file on a large-RAM host
// otherwise serves the baselines' reads from memory), and ends with `sync -f` of the target
// filesystem inside the timing (a copy is done when it is on disk, not when it is in dirty pages).
// Each measurement runs BENCH_RUNS times; the median is printed with the spread.
import {spawnSync} from 'node:child_process'
import {constants, promises as fs, statfsSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {cloneNodes} from '../src/services/nodes-clone.js'
import {cloneConcurrency} from '../src/storage/local.js'
import {copyTree as cloneTree, type CopyMethod} from '../src/system/trees.js'
import {hostFiles} from '../src/system/files.js'
import {rebaseNodes} from '../src/services/nodes-rebase.js'
import {removeRoot} from '../src/storage/local/remove.js'
import {makeRoot} from '../src/system/paths.js'
import {mapBounded, settled} from '../src/system/pool.js'
import {execaRunner} from '../src/system/runner.js'

const CACHE = process.env.PXEROOT_BENCH_CACHE ?? '/var/tmp/pxeroot-bench-cache'
const TREE = process.env.PXEROOT_BENCH_TREE ?? path.join(CACHE, 'bookworm-minbase-kernel')
const MIRROR = process.env.PXEROOT_BENCH_MIRROR ?? 'http://deb.debian.org/debian'
const COUNTS = process.env.BENCH_COUNTS ? process.env.BENCH_COUNTS.split(',').map(Number) : process.env.BENCH_50 ? [10, 50] : [10]
const BIN = path.resolve(import.meta.dirname, '../bin/run.js')
const RUNS = Math.max(1, Number(process.env.BENCH_RUNS ?? 3))
/** Runs of a rolling baseline (100 full copies each): BENCH_BASELINE_RUNS, default BENCH_RUNS. */
const BASELINE_RUNS = Math.max(1, Number(process.env.BENCH_BASELINE_RUNS ?? RUNS))
const runner = execaRunner()

function sh(cmd: string, args: string[], cwd?: string): string {
  const r = spawnSync(cmd, args, {encoding: 'utf8', cwd, maxBuffer: 1 << 28})
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`)
  return r.stdout
}

function dropCaches(): void {
  sh('sync', [])
  writeFileSync('/proc/sys/vm/drop_caches', '3\n')
}

interface Measured {
  /** Median wall seconds. */
  seconds: number
  spread: string
  /** Disk the last run left behind (measured before its cleanup). */
  disk: number
}

/**
 * Runs `fn` RUNS times, each from the same state: `reset` (untimed) empties the targets, the
 * caches are dropped, and the timing covers `fn` plus syncing the filesystem.
 */
async function measure(mnt: string, type: FsType, reset: () => Promise<void>, fn: () => Promise<unknown>, runs = RUNS, finish = reset): Promise<Measured> {
  const times: number[] = []
  let disk = 0
  for (let i = 0; i < runs; i++) {
    await reset()
    const before = await used(mnt, type)
    dropCaches()
    const t = performance.now()
    await fn()
    sh('sync', ['-f', mnt])
    times.push((performance.now() - t) / 1000)
    disk = (await used(mnt, type)) - before
  }
  await finish()
  const sorted = [...times].sort((x, y) => x - y)
  const seconds = sorted[Math.floor(sorted.length / 2)]
  return {seconds, spread: runs > 1 ? `${sorted[0].toFixed(2)}–${sorted.at(-1)!.toFixed(2)}` : '', disk}
}

async function ensureTree(): Promise<void> {
  if (await fs.stat(TREE).then(() => true, () => false)) return
  const tmp = path.join(CACHE, '.building')
  await fs.mkdir(CACHE, {recursive: true})
  await fs.rm(tmp, {recursive: true, force: true})
  console.error(`building ${TREE} with debootstrap (a few minutes, once)`)
  sh('debootstrap', ['--variant=minbase', '--include=linux-image-amd64,initramfs-tools', 'bookworm', tmp, MIRROR])
  if (await fs.stat(path.join(tmp, 'debootstrap')).then(() => true, () => false)) throw new Error('debootstrap left its work directory: incomplete tree')
  await fs.rename(tmp, TREE)
}

type FsType = 'btrfs' | 'xfs' | 'ext4'

async function mountFs(type: FsType, sizeGiB: number): Promise<{mnt: string, cleanup: () => Promise<void>}> {
  const base = await fs.mkdtemp(`/var/tmp/pxeroot-bench-${type}-`)
  const img = path.join(base, 'fs.img')
  const mnt = path.join(base, 'mnt')
  await fs.mkdir(mnt)
  sh('truncate', ['-s', `${sizeGiB}G`, img])
  if (type === 'btrfs') sh('mkfs.btrfs', ['-q', '-f', img])
  if (type === 'xfs') sh('mkfs.xfs', ['-q', '-f', '-m', 'reflink=1', img])
  if (type === 'ext4') sh('mkfs.ext4', ['-q', '-F', img])
  const dev = sh('losetup', ['-f', '--show', img]).trim()
  sh('mount', [dev, mnt])
  return {
    mnt,
    async cleanup() {
      spawnSync('umount', [mnt])
      spawnSync('losetup', ['-d', dev])
      await fs.rm(base, {recursive: true, force: true})
    },
  }
}

async function used(mnt: string, type: FsType): Promise<number> {
  if (type === 'btrfs') sh('btrfs', ['filesystem', 'sync', mnt])
  else sh('sync', ['-f', mnt])
  const s = await fs.statfs(mnt)
  return (s.blocks - s.bfree) * s.bsize
}

const SITE = `server: 192.168.0.10
subnet: 192.168.0.0/16
nodes:
  range: 192.168.1.1-192.168.1.250
boot:
  image: lab
`

function ctxFor(rootDir: string) {
  return {root: makeRoot(rootDir), runner, files: hostFiles, log: () => {}, signal: new AbortController().signal, json: false}
}

async function makeRevision(rootDir: string, rev: number, type: FsType, fill: (dir: string) => void): Promise<string> {
  const revDir = path.join(rootDir, 'srv/pxeroot/images/lab', String(rev))
  await fs.mkdir(revDir, {recursive: true})
  const rootfs = path.join(revDir, 'rootfs')
  if (type === 'btrfs') sh('btrfs', ['-q', 'subvolume', 'create', rootfs])
  else await fs.mkdir(rootfs)
  fill(rootfs)
  if (type === 'btrfs') sh('btrfs', ['property', 'set', '-ts', rootfs, 'ro', 'true'])
  const current = path.join(rootDir, 'srv/pxeroot/images/lab/current')
  await fs.rm(current, {force: true})
  await fs.symlink(String(rev), current)
  return rootfs
}

/** An image update like the note's: 50 files modified, 126 new, 5 deleted. */
function imageChange(rootfs: string): void {
  const docs = sh('find', ['usr/share/doc', '-type', 'f', '-name', 'copyright'], rootfs).split('\n').filter(Boolean)
  for (const f of docs.slice(0, 50)) sh('sh', ['-c', 'echo "# updated" >> "$1"', 'x', path.join(rootfs, f)])
  for (const f of docs.slice(50, 55)) sh('rm', ['-f', path.join(rootfs, f)])
  sh('mkdir', ['-p', path.join(rootfs, 'usr/share/pxeroot-update')])
  for (let i = 0; i < 126; i++) sh('dd', ['if=/dev/urandom', `of=${path.join(rootfs, `usr/share/pxeroot-update/f${i}`)}`, 'bs=4k', 'count=8', 'status=none'])
}

async function clearNodes(rootDir: string): Promise<void> {
  const nodesDir = path.join(rootDir, 'srv/nodes')
  for (const name of await fs.readdir(nodesDir).catch(() => [] as string[])) await removeRoot({runner, files: hostFiles}, nodesDir, path.join(nodesDir, name))
  await fs.rm(path.join(rootDir, 'etc/pxeroot/nodes.yaml'), {force: true})
}

/** A minimal Node FICLONE walk (regular files, dirs, symlinks only; no owners, xattrs or hard
 * links): a lower bound on what a JavaScript reflink copier could do, against `cp --reflink`. */
async function nodeFicloneWalk(src: string, dst: string): Promise<void> {
  await fs.mkdir(dst)
  for (const e of await fs.readdir(src, {withFileTypes: true})) {
    const s = path.join(src, e.name)
    const d = path.join(dst, e.name)
    if (e.isDirectory()) await nodeFicloneWalk(s, d)
    else if (e.isSymbolicLink()) await fs.symlink(await fs.readlink(s), d)
    else if (e.isFile()) await fs.copyFile(s, d, constants.COPYFILE_FICLONE_FORCE)
  }
}

const rows: string[][] = []
function row(...cells: (string | number)[]): void {
  const r = cells.map((c) => (typeof c === 'number' ? c.toFixed(c < 10 ? 2 : 1) : c))
  rows.push(r)
  console.log(r.join('\t'))
}
const size = (b: number) => (Math.abs(b) >= 2 ** 30 ? `${(b / 2 ** 30).toFixed(2)} GiB` : `${(b / 2 ** 20).toFixed(1)} MiB`)
const times = (base: number, t: number) => `${(base / t).toFixed(1)}×`

async function benchFs(type: FsType): Promise<void> {
  const {mnt, cleanup} = await mountFs(type, 60)
  try {
    const rootDir = path.join(mnt, 'root')
    await fs.mkdir(path.join(rootDir, 'etc/pxeroot'), {recursive: true})
    await fs.writeFile(path.join(rootDir, 'etc/pxeroot/pxeroot.yaml'), SITE)
    // The image's own blocks, not the filesystem's metadata (an empty 60 GB xfs already uses ~400 MB).
    const empty = await used(mnt, type)
    const source = await makeRevision(rootDir, 1, type, (d) => sh('rsync', ['-aHAXS', '--numeric-ids', `${TREE}/`, `${d}/`]))
    const scratch = path.join(mnt, 'scratch')
    await fs.mkdir(scratch)
    const image = (await used(mnt, type)) - empty
    const clearScratch = async () => {
      for (const name of await fs.readdir(scratch)) await removeRoot({runner, files: hostFiles}, scratch, path.join(scratch, name))
    }
    const m = (fn: () => Promise<unknown>, reset = clearScratch, finish = reset) => measure(mnt, type, reset, fn, RUNS, finish)
    const serially = (n: number, copy: (i: number) => void) => async () => {
      for (let i = 0; i < n; i++) copy(i)
    }
    // N copies that do not fit at once: each timed with its sync, removed untimed (see the top).
    const fits = (n: number) => image * n * 1.1 < (s => s.bavail * s.bsize)(statfsSync(mnt))
    const rolling = (n: number, copy: (i: number) => void): Promise<Measured> => {
      const times: number[] = []
      return (async () => {
        for (let r = 0; r < BASELINE_RUNS; r++) {
          await clearScratch()
          dropCaches()
          let total = 0
          for (let i = 0; i < n; i++) {
            const t = performance.now()
            copy(i)
            sh('sync', ['-f', mnt])
            total += performance.now() - t
            await clearScratch()
          }
          times.push(total / 1000)
        }
        const sorted = [...times].sort((x, y) => x - y)
        return {seconds: sorted[Math.floor(sorted.length / 2)], spread: BASELINE_RUNS > 1 ? `${sorted[0].toFixed(2)}–${sorted.at(-1)!.toFixed(2)}` : '', disk: 0}
      })()
    }
    const baseline = (n: number, copy: (i: number) => void) => (fits(n) ? m(serially(n, copy)) : rolling(n, copy))
    const parallel = (n: number, limit: number, copy: (i: number) => Promise<unknown>) => async () => settled(await mapBounded(Array.from({length: n}, (_, i) => i), limit, copy))

    const methods = (process.env.BENCH_METHODS?.split(',') as CopyMethod[] | undefined) ?? (type === 'btrfs' ? ['btrfs', 'reflink', 'copy'] : type === 'xfs' ? ['reflink', 'copy'] : ['copy', 'rsync'])
    for (const n of COUNTS) {
      const cp = await baseline(n, (i) => sh('cp', ['-a', '--reflink=never', source, path.join(scratch, `c${i}`)]))
      row(type, `baseline cp -a --reflink=never ×${n}${fits(n) ? '' : ' (rolling)'}`, cp.seconds, cp.spread, '1.0× cp', size(cp.disk))
      const rs = process.env.BENCH_RSYNC === '0' ? undefined : await baseline(n, (i) => sh('rsync', ['-aHAX', '--numeric-ids', `${source}/`, path.join(scratch, `r${i}/`)]))
      if (rs) row(type, `baseline rsync -aHAX --numeric-ids ×${n}${fits(n) ? '' : ' (rolling)'}`, rs.seconds, rs.spread, `${times(cp.seconds, rs.seconds)} cp`, size(rs.disk))
      if (type === 'btrfs') {
        // What a user waits for: the whole command, start-up to exit.
        const w = await m(async () => {
          const r = spawnSync(process.execPath, [BIN, 'nodes', 'clone', String(n), '--no-reload'], {env: {...process.env, PXEROOT_ROOT: rootDir}, encoding: 'utf8'})
          if (r.status !== 0) throw new Error(`pxeroot nodes clone ${n}: ${r.stderr}`)
        }, () => clearNodes(rootDir))
        row(type, `pxeroot nodes clone ${n} (whole process, btrfs)`, w.seconds, w.spread, `${times(cp.seconds, w.seconds)} cp`, `${size(w.disk)}`)
      }
      for (const method of methods) {
        const r = await m(() => cloneNodes(ctxFor(rootDir), {count: n, method}), () => clearNodes(rootDir))
        row(type, `nodes clone ${n} --method ${method}`, r.seconds, r.spread, `${times(cp.seconds, r.seconds)} cp${rs ? `, ${times(rs.seconds, r.seconds)} rsync` : ''}`,
          `${size(r.disk)} (${(100 * r.disk / image / n).toFixed(2)} % of the image per node)`)
        const limit = cloneConcurrency(method, 4)
        const c = await m(parallel(n, limit, (i) => cloneTree(runner, method, source, path.join(scratch, `m${i}`))))
        row(type, `  copy step alone ×${n} (${method}, ${limit} at once)`, c.seconds, c.spread, `${times(cp.seconds, c.seconds)} cp${rs ? `, ${times(rs.seconds, c.seconds)} rsync` : ''}`, size(c.disk))
      }
      if (type === 'ext4') {
        // The fallback as users get it: no --method, the engine picks (nothing shares extents here).
        let picked = ''
        const f = await m(async () => {
          picked = (await cloneNodes(ctxFor(rootDir), {count: n})).method
        }, () => clearNodes(rootDir))
        row(type, `fallback: nodes clone ${n} (picked ${picked}) vs cp -a --reflink=never ×${n}, same run`, f.seconds, f.spread,
          `ratio ${(cp.seconds / f.seconds).toFixed(2)} (≥ 1.00 wanted: ${cp.seconds / f.seconds >= 1 ? 'met' : 'NOT met'})`, size(f.disk))
      }
    }

    if (process.env.BENCH_SWEEP) {
      const n = 10
      const copies = type === 'ext4' ? [] : [1, 2, 4].map((p) => ({what: `cp -a --reflink=always ×${n}, ${p} at once`, p, args: (i: number) => ['cp', '-a', '--reflink=always', source, path.join(scratch, `s${i}`)]}))
      for (const flags of ['-aHAX', '-aHAXS']) {
        for (const p of [1, 2, 4]) copies.push({what: `rsync ${flags} --numeric-ids ×${n}, ${p} at once`, p, args: (i: number) => ['rsync', flags, '--numeric-ids', `${source}/`, path.join(scratch, `s${i}/`)]})
      }
      for (const c of copies) {
        const r = await m(parallel(n, c.p, (i) => runner.run(c.args(i)[0], c.args(i).slice(1), {timeout: 3_600_000})))
        row(type, `  sweep: ${c.what}`, r.seconds, r.spread, '', size(r.disk))
      }
    }

    // A run narrowed to some methods (BENCH_METHODS) is about those clones alone.
    if (process.env.BENCH_METHODS) return
    if (type !== 'ext4') {
      const tCp = await m(() => cloneTree(runner, 'reflink', source, path.join(scratch, 'cp1')))
      const tJs = await m(() => nodeFicloneWalk(source, path.join(scratch, 'js1')))
      row(type, 'reflink ×1: cp -a --reflink=always vs Node FICLONE walk (no owners/xattrs)', tCp.seconds, tCp.spread, `Node walk ${tJs.seconds.toFixed(2)} s (${(tJs.seconds / tCp.seconds).toFixed(1)}× slower)`, '')
    }

    // nodes rebase --all of 10 nodes after an image change (each run from 10 fresh lab@1 nodes).
    await makeRevision(rootDir, 2, type, (d) => {
      if (type === 'btrfs') {
        sh('btrfs', ['subvolume', 'delete', d])
        sh('btrfs', ['-q', 'subvolume', 'snapshot', source, d])
      } else {
        sh('rmdir', [d])
        sh('cp', ['-a', '--reflink=auto', source, d])
      }
      imageChange(d)
    })
    const r = await m(() => rebaseNodes(ctxFor(rootDir), {nodes: 'all', image: 'lab@2'}), async () => {
      await clearNodes(rootDir)
      await cloneNodes(ctxFor(rootDir), {count: 10, image: 'lab@1'})
    }, () => clearNodes(rootDir))
    row(type, 'nodes rebase --all (10 nodes, new revision)', r.seconds, r.spread, '', `${size(r.disk)} (new roots; old kept for rollback)`)
  } finally {
    await cleanup()
  }
}

await ensureTree()
const st = sh('du', ['-sh', TREE]).split('\t')[0]
const files = sh('sh', ['-c', `find "${TREE}" | wc -l`]).trim()
console.log(`tree: ${TREE} (${st}, ${files} entries); ${COUNTS.join(' and ')} nodes`)
console.log(`median of ${RUNS} run(s), caches dropped before and the filesystem synced inside every timed run`)
console.log(['fs', 'what', 'seconds', 'min–max', 'ratio', 'disk used'].join('\t'))
for (const type of (process.env.BENCH_FS?.split(',') ?? ['btrfs', 'xfs', 'ext4']) as FsType[]) await benchFs(type)
console.log('\n| fs | what | seconds (median) | min–max | ratio | disk used |\n|---|---|---|---|---|---|')
for (const r of rows) console.log(`| ${r.join(' | ')} |`)
