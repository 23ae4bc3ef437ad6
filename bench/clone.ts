// Benchmark of `nodes clone` and `nodes rebase` (not a test). Run as root:
//   node --import tsx bench/clone.ts            # 10 nodes per method on btrfs, xfs and ext4
//   BENCH_50=1 node --import tsx bench/clone.ts # also 50 nodes
// Builds (once, cached in $PXEROOT_BENCH_CACHE or /var/tmp/pxeroot-bench-cache) a real
// `debootstrap --variant=minbase bookworm` tree with linux-image-amd64 and initramfs-tools from
// the host's apt mirror; loop-mounts a fresh filesystem of each type; times, in the same run, the
// baselines `cp -a --reflink=never` and `rsync -aHAX` of 10 copies, then the whole `nodes clone N`
// (identity and boot-config apply included) per method, the clone step alone, and
// `nodes rebase --all` of 10 nodes after an image change. Prints seconds, ratios and disk used.
import {spawnSync} from 'node:child_process'
import {constants, promises as fs} from 'node:fs'
import path from 'node:path'

import {cloneNodes} from '../src/clone/clone-nodes.js'
import {cloneTree} from '../src/clone/copy.js'
import {type CloneMethod} from '../src/clone/method.js'
import {rebaseNodes} from '../src/clone/rebase.js'
import {removeRoot} from '../src/clone/remove.js'
import {makeRoot} from '../src/system/paths.js'
import {execaRunner} from '../src/system/runner.js'

const CACHE = process.env.PXEROOT_BENCH_CACHE ?? '/var/tmp/pxeroot-bench-cache'
const TREE = path.join(CACHE, 'bookworm-minbase-kernel')
const MIRROR = process.env.PXEROOT_BENCH_MIRROR ?? 'http://deb.debian.org/debian'
const COUNTS = process.env.BENCH_50 ? [10, 50] : [10]
const runner = execaRunner()

function sh(cmd: string, args: string[], cwd?: string): string {
  const r = spawnSync(cmd, args, {encoding: 'utf8', cwd, maxBuffer: 1 << 28})
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`)
  return r.stdout
}

function timed(fn: () => void): number {
  const t = performance.now()
  fn()
  return (performance.now() - t) / 1000
}

async function timedAsync(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now()
  await fn()
  return (performance.now() - t) / 1000
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
  return {root: makeRoot(rootDir), runner, log: () => {}, signal: new AbortController().signal, json: false}
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
  for (const name of await fs.readdir(nodesDir).catch(() => [] as string[])) await removeRoot(runner, nodesDir, path.join(nodesDir, name))
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
const gib = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`
const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`

async function benchFs(type: FsType): Promise<void> {
  const {mnt, cleanup} = await mountFs(type, 60)
  try {
    const rootDir = path.join(mnt, 'root')
    await fs.mkdir(path.join(rootDir, 'etc/pxeroot'), {recursive: true})
    await fs.writeFile(path.join(rootDir, 'etc/pxeroot/pxeroot.yaml'), SITE)
    const source = await makeRevision(rootDir, 1, type, (d) => sh('rsync', ['-aHAXS', '--numeric-ids', `${TREE}/`, `${d}/`]))
    const scratch = path.join(mnt, 'scratch')
    await fs.mkdir(scratch)
    const base0 = await used(mnt, type)

    const baseline = (cmd: string, args: (i: number) => string[], n: number) => {
      const t = timed(() => {
        for (let i = 0; i < n; i++) sh(cmd, args(i))
      })
      sh('rm', ['-rf', scratch])
      sh('mkdir', [scratch])
      return t
    }
    const cp = baseline('cp', (i) => ['-a', '--reflink=never', source, path.join(scratch, `c${i}`)], 10)
    const rs = baseline('rsync', (i) => ['-aHAX', '--numeric-ids', `${source}/`, path.join(scratch, `r${i}/`)], 10)
    row(type, 'baseline cp -a --reflink=never ×10', cp, '1.0×', '')
    row(type, 'baseline rsync -aHAX ×10', rs, `${(cp / rs).toFixed(1)}×`, '')

    const methods: CloneMethod[] = type === 'btrfs' ? ['btrfs', 'reflink', 'rsync'] : type === 'xfs' ? ['reflink', 'rsync'] : ['rsync']
    for (const method of methods) {
      for (const n of COUNTS) {
        const before = await used(mnt, type)
        const t = await timedAsync(() => cloneNodes(ctxFor(rootDir), {count: n, method}))
        const disk = (await used(mnt, type)) - before
        row(type, `nodes clone ${n} --method ${method}`, t, `${(cp * n / 10 / t).toFixed(1)}× cp, ${(rs * n / 10 / t).toFixed(1)}× rsync`, `${mib(disk)} (${(100 * disk / (base0 || 1) / n).toFixed(2)} % of the image per node)`)
        await clearNodes(rootDir)
      }
      // The clone step alone, serial, without identity or apply.
      const t = await timedAsync(async () => {
        for (let i = 0; i < 10; i++) await cloneTree(runner, method, source, path.join(scratch, `m${i}`))
      })
      row(type, `  clone step alone ×10 (${method})`, t, `${(cp / t).toFixed(1)}× cp, ${(rs / t).toFixed(1)}× rsync`, '')
      for (const name of await fs.readdir(scratch)) await removeRoot(runner, scratch, path.join(scratch, name))
    }

    if (type !== 'ext4') {
      const tCp = await timedAsync(() => cloneTree(runner, 'reflink', source, path.join(scratch, 'cp1')))
      const tJs = await timedAsync(() => nodeFicloneWalk(source, path.join(scratch, 'js1')))
      row(type, 'reflink ×1: cp -a --reflink=always vs Node FICLONE walk (no owners/xattrs)', tCp, `Node walk ${tJs.toFixed(2)} s (${(tJs / tCp).toFixed(1)}× slower)`, '')
      sh('rm', ['-rf', path.join(scratch, 'cp1'), path.join(scratch, 'js1')])
    }

    // nodes rebase --all of 10 nodes after an image change.
    await cloneNodes(ctxFor(rootDir), {count: 10})
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
    const before = await used(mnt, type)
    const t = await timedAsync(() => rebaseNodes(ctxFor(rootDir), {nodes: 'all', image: 'lab@2'}))
    const disk = (await used(mnt, type)) - before
    row(type, 'nodes rebase --all (10 nodes, new revision)', t, '', `${mib(disk)} (new roots; old kept for rollback)`)
  } finally {
    await cleanup()
  }
}

await ensureTree()
const st = sh('du', ['-sh', TREE]).split('\t')[0]
const files = sh('sh', ['-c', `find "${TREE}" | wc -l`]).trim()
console.log(`tree: ${TREE} (${st}, ${files} entries); ${process.env.BENCH_50 ? '10 and 50' : '10'} nodes`)
console.log(['fs', 'what', 'seconds', 'ratio', 'disk used'].join('\t'))
for (const type of (process.env.BENCH_FS?.split(',') ?? ['btrfs', 'xfs', 'ext4']) as FsType[]) await benchFs(type)
console.log('\n| fs | what | seconds | ratio | disk used |\n|---|---|---|---|---|')
for (const r of rows) console.log(`| ${r.join(' | ')} |`)
void gib
