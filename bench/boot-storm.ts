/**
 * Boot storm (a benchmark, not a test): N nodes powered on at once all fetch the same kernel and
 * initrd, once from the real tftpd-hpa and once from the real lighttpd, each run as pxeroot
 * configures it (tftpd-hpa with the options of the rendered /etc/default/tftpd-hpa, lighttpd
 * with pxeroot's rendered drop-in). Prints, for each N: wall time, aggregate MB/s (10^6 bytes),
 * each server's CPU seconds (tftpd's transfer children included: a cgroup v2 where there is one,
 * else /proc/<pid>/stat), the HTTP/TFTP throughput ratio and the TFTP/HTTP server CPU ratio.
 * Run as root:
 *   npx tsx bench/boot-storm.ts [N...]                  # default 10 50 100
 *     --root DIR [--image NAME@N]   kernel and initrd of a published revision under a pxeroot
 *                                   root (default: the site's boot.image, current revision)
 *     (no --root)                   the test suite's golden debian-bookworm image (built on
 *                                   first use, ~4 min, then cached: test/support/golden.ts)
 *     --blksize B                   TFTP block size the clients ask (default 1468, pxelinux's)
 *     --runs R                      rounds per N and server, the median printed (default 1)
 *     --timeout S                   bound on each round (default 900)
 *
 * Everything runs in two private network namespaces made for the run (a server with a bridge,
 * the clients on one veth, MTU 1500, no uplink): one client namespace holding N source
 * addresses, one curl per node, all started at once, each fetching kernel then initrd like a
 * node. Every process is ended by PID and both namespaces are deleted, also on Ctrl-C.
 */
import {promises as fs} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {execa} from 'execa'

import {loadSite} from '../src/config/site-file.js'
import {deriveSite, SiteSchema} from '../src/config/site.js'
import {bootFiles, currentRevision, parseRevisionRef, type RevisionRef} from '../src/images/layout.js'
import {renderTftpdDefault} from '../src/render/tftpd.js'
import {renderLighttpdDropIn, renderLighttpdMain} from '../src/render/web/lighttpd.js'
import {makeRoot} from '../src/system/paths.js'
import {createHttpNet, type HttpNet, waitListening} from '../test/support/http-net.js'

const SERVER = '10.78.0.1'
const PREFIX = 16
const TICKS = Number((await execa('getconf', ['CLK_TCK'])).stdout) || 100

interface Options {
  counts: number[]
  root?: string
  image?: string
  blksize: number
  timeoutS: number
  runs: number
}

function parseArgs(argv: string[]): Options {
  const o: Options = {counts: [], blksize: 1468, timeoutS: 900, runs: 1}
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const value = () => {
      const v = argv[++i]
      if (v === undefined) throw new Error(`${a} needs a value`)
      return v
    }
    if (a === '--root') o.root = value()
    else if (a === '--image') o.image = value()
    else if (a === '--blksize') o.blksize = Number(value())
    else if (a === '--timeout') o.timeoutS = Number(value())
    else if (a === '--runs') o.runs = Math.max(1, Number(value()))
    else if (/^\d+$/.test(a) && Number(a) > 0) o.counts.push(Number(a))
    else throw new Error(`unknown argument ${a}; usage: boot-storm.ts [N...] [--root DIR [--image NAME@N]] [--blksize B] [--runs R] [--timeout S]`)
  }
  if (o.counts.length === 0) o.counts = [10, 50, 100]
  return o
}

/** The kernel and initrd to serve: a revision under --root, or the golden test image. */
async function source(o: Options): Promise<{label: string, ref: RevisionRef, kernel: string, initrd: string, cleanup: () => Promise<void>}> {
  if (o.root) {
    const root = makeRoot(o.root)
    const site = await loadSite(root)
    const ref = o.image ? parseRevisionRef(o.image) : await currentRevision(root, site, site.boot.image)
    if (!ref) throw new Error(`no revision to serve: ${site.boot.image} has none under ${o.root}; pass --image NAME@N`)
    const files = bootFiles(ref)
    const at = (rel: string) => root.resolve(path.posix.join(site.paths.tftp, rel))
    return {label: `${ref.image}@${ref.revision} under ${o.root}`, ref, kernel: at(files.kernel), initrd: at(files.initrd), cleanup: async () => {}}
  }
  const {goldenImage, removeGoldenRoot} = await import('../test/support/golden.js')
  const golden = await goldenImage()
  const files = bootFiles(golden.ref)
  const at = (rel: string) => golden.root.resolve(path.posix.join(golden.site.paths.tftp, rel))
  return {label: `golden ${golden.ref.image}@${golden.ref.revision}`, ref: golden.ref, kernel: at(files.kernel), initrd: at(files.initrd), cleanup: () => removeGoldenRoot(golden)}
}

/** Client i's address (1-based): 10.78.1.1, 10.78.1.2, ... 250 per /24. */
const clientAddress = (i: number) => `10.78.${1 + Math.floor((i - 1) / 250)}.${1 + ((i - 1) % 250)}`

/** A process's own CPU seconds so far (utime + stime), or undefined once it is gone. */
async function cpuSeconds(pid: number): Promise<number | undefined> {
  const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined)
  if (!stat) return undefined
  // utime and stime are fields 14 and 15 of stat(5); fields[0] here is field 3.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / TICKS
}

/** A server's CPU seconds, read before and after each round. */
interface CpuMeter {
  /** How it is measured, for the header line. */
  readonly how: string
  /** Starts a reading; the returned function ends it with the CPU seconds spent since. */
  begin(): () => Promise<number>
  remove(): Promise<void>
}

/**
 * Exact: a cgroup v2 holding the server and every child it forks (cpu.stat usage_usec counts
 * processes that have exited too). tftpd-hpa forks a child per transfer and ignores SIGCHLD
 * (SA_NOCLDWAIT), so their time never reaches its cutime in /proc/<pid>/stat.
 */
async function cgroupMeter(name: string, pid: number): Promise<CpuMeter | undefined> {
  for (const base of ['/sys/fs/cgroup', '/sys/fs/cgroup/unified']) {
    if ((await fs.readFile(path.join(base, 'cgroup.controllers'), 'utf8').catch(() => undefined)) === undefined) continue
    const dir = path.join(base, name)
    try {
      await fs.mkdir(dir)
      await fs.writeFile(path.join(dir, 'cgroup.procs'), `${pid}\n`)
    } catch {
      await fs.rmdir(dir).catch(() => undefined)
      continue
    }
    const usage = async () => Number(/^usage_usec (\d+)$/m.exec(await fs.readFile(path.join(dir, 'cpu.stat'), 'utf8'))?.[1] ?? 0) / 1e6
    return {
      how: 'cgroup v2 cpu.stat',
      begin() {
        const before = usage()
        return async () => await usage() - await before
      },
      // Empty once the namespaces' processes are ended.
      remove: () => fs.rmdir(dir).catch(() => undefined),
    }
  }
  return undefined
}

/**
 * Without cgroup v2: /proc/<pid>/stat, the server's own utime + stime, plus each child's own,
 * sampled every 20 ms while it lives (a child's last moments are missed: a lower bound).
 */
function procMeter(pid: number): CpuMeter {
  return {
    how: '/proc/<pid>/stat (children sampled: a lower bound)',
    begin() {
      const seen = new Map<number, number>()
      const own = cpuSeconds(pid)
      const sample = async () => {
        const children = await fs.readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '')
        for (const child of children.split(' ').filter(Boolean).map(Number)) {
          const cpu = await cpuSeconds(child)
          if (cpu !== undefined) seen.set(child, cpu)
        }
      }
      let sampling = sample()
      const timer = setInterval(() => {
        sampling = sampling.then(sample)
      }, 20)
      return async () => {
        clearInterval(timer)
        await sampling
        return (await cpuSeconds(pid) ?? 0) - (await own ?? 0) + [...seen.values()].reduce((a, b) => a + b, 0)
      }
    },
    remove: async () => {},
  }
}

/** /etc/default/tftpd-hpa as pxeroot renders it, as Debian's tftpd-hpa service turns it into argv. */
function tftpdArgv(defaults: string, dir: string): string[] {
  const v = (key: string) => new RegExp(`^${key}="([^"]*)"$`, 'm').exec(defaults)?.[1] ?? ''
  // -L: the service's --listen, kept in the foreground so the run owns it.
  return ['in.tftpd', '-L', '--user', v('TFTP_USERNAME'), '--address', v('TFTP_ADDRESS'), ...v('TFTP_OPTIONS').split(/\s+/).filter(Boolean), dir]
}

/** The run with the median wall time (of an odd count; the upper one of an even count). */
function median(rounds: Round[]): Round {
  return [...rounds].sort((a, b) => a.seconds - b.seconds)[Math.floor(rounds.length / 2)]
}

interface Round {
  seconds: number
  bytes: number
  cpu: number
  clientCpu: number
  /** Clients whose curl failed. */
  failed: number
  /** Fewer bytes arrived than N kernels and initrds. */
  short: boolean
}

/** N clients at once, each fetching the URLs one after another; bounded; every curl's outcome checked. */
async function round(net: HttpNet, meter: CpuMeter, n: number, urls: string[], curlArgs: string[], expectedBytes: number, timeoutS: number): Promise<Round> {
  const q = (s: string) => `'${s.replaceAll("'", "'\\''")}'`
  const perUrl = urls.flatMap((u) => ['-o', '/dev/null', q(u)]).join(' ')
  const curl = (i: number) => `(curl --silent --show-error --max-time ${timeoutS} --interface ${clientAddress(i)} ${curlArgs.join(' ')} --write-out '%{size_download}\\n' ${perUrl}; echo "rc $?") &`
  const script = [...Array.from({length: n}, (_, i) => curl(i + 1)), 'wait', 'times'].join('\n')
  const cpuSince = meter.begin()
  const started = process.hrtime.bigint()
  const [cmd, ...args] = net.inClient(['sh', '-c', script])
  const r = await execa(cmd, args, {reject: false, timeout: (timeoutS + 30) * 1000, maxBuffer: 1 << 24})
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  const cpu = await cpuSince()
  const lines = String(r.stdout).split('\n')
  const bytes = lines.filter((l) => /^\d+$/.test(l)).map(Number).reduce((a, b) => a + b, 0)
  const failed = r.exitCode === 0 ? lines.filter((l) => /^rc [1-9]/.test(l)).length : n
  // `times`: the shell's children (every curl) user and system time, "XmY.YYYs XmZ.ZZZs".
  const clientCpu = [...(lines.at(-1) ?? '').matchAll(/(\d+)m([\d.]+)s/g)].reduce((a, m) => a + Number(m[1]) * 60 + Number(m[2]), 0)
  return {seconds, bytes, cpu, clientCpu, failed, short: bytes !== n * expectedBytes}
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('run as root: network namespaces and port 69/80')
  const o = parseArgs(process.argv.slice(2))
  const from = await source(o)
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pxeroot-boot-storm-'))
  let net: HttpNet | undefined
  const meters: CpuMeter[] = []
  const cleanup = async () => {
    await net?.destroy()
    for (const m of meters) await m.remove()
    await fs.rm(dir, {recursive: true, force: true})
    await from.cleanup()
  }
  const interrupted = () => {
    void cleanup().finally(() => process.exit(130))
  }
  process.once('SIGINT', interrupted)
  process.once('SIGTERM', interrupted)
  try {
    // The tftp root both servers serve: the two files, world-readable, as `image build` publishes
    // them. The copies stay in the page cache, so both servers read them from memory alike.
    const tftp = path.join(dir, 'tftp')
    const files = bootFiles(from.ref)
    for (const [rel, src] of [[files.kernel, from.kernel], [files.initrd, from.initrd]] as const) {
      await fs.mkdir(path.join(tftp, path.dirname(rel)), {recursive: true, mode: 0o755})
      await fs.copyFile(src, path.join(tftp, rel))
      await fs.chmod(path.join(tftp, rel), 0o644)
    }
    for (let d = tftp; d !== os.tmpdir(); d = path.dirname(d)) await fs.chmod(d, 0o755)
    const expected = (await fs.stat(from.kernel)).size + (await fs.stat(from.initrd)).size

    const site = deriveSite(SiteSchema.parse({server: SERVER, subnet: `10.78.0.0/${PREFIX}`, nodes: {range: '10.78.200.1-10.78.200.10'}, paths: {tftp}, boot: {transport: 'http'}}))
    const dropIn = path.join(dir, 'lighttpd-pxeroot.conf')
    await fs.writeFile(dropIn, renderLighttpdDropIn(site))
    const errorLog = path.join(dir, 'lighttpd-error.log')
    await fs.writeFile(errorLog, '')
    await fs.chown(errorLog, 33, 33)
    const mainConf = path.join(dir, 'lighttpd.conf')
    await fs.writeFile(mainConf, renderLighttpdMain({include: dropIn, errorLog}))

    const max = Math.max(...o.counts)
    net = await createHttpNet({server: `${SERVER}/${PREFIX}`, clients: Array.from({length: max}, (_, i) => `${clientAddress(i + 1)}/${PREFIX}`)}, 'pxeroot-storm')
    const bound = (o.timeoutS + 60) * 1000 * o.counts.length * 2 * o.runs
    const tftpd = net.start(tftpdArgv(renderTftpdDefault(site), tftp), bound, path.join(dir, 'tftpd.log'))
    const web = net.start(['lighttpd', '-D', '-f', mainConf], bound, path.join(dir, 'lighttpd.log'))
    await waitListening(net, '0.0.0.0', 69, 'udp')
    await waitListening(net, SERVER, 80, 'tcp')
    const meter = async (name: string, pid: number) => await cgroupMeter(`pxeroot-storm-${process.pid}-${name}`, pid) ?? procMeter(pid)
    const tftpdCpu = await meter('tftpd', tftpd.pid!)
    const webCpu = await meter('lighttpd', web.pid!)
    meters.push(tftpdCpu, webCpu)

    console.error(`boot storm: ${from.label}, kernel + initrd ${(expected / 1e6).toFixed(1)} MB per node; TFTP blksize ${o.blksize}; server CPU from ${tftpdCpu.how}; ${os.cpus().length} cores, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`)
    const rows: string[] = []
    const urls = (scheme: string) => [files.kernel, files.initrd].map((f) => `${scheme}://${SERVER}/${f}`)
    for (const n of o.counts) {
      const runs: {t: Round, h: Round}[] = []
      // TFTP and HTTP take turns, so a change in the machine's load hits both alike.
      for (let i = 0; i < o.runs; i++) {
        runs.push({
          t: await round(net, tftpdCpu, n, urls('tftp'), ['--tftp-blksize', String(o.blksize)], expected, o.timeoutS),
          h: await round(net, webCpu, n, urls('http'), [], expected, o.timeoutS),
        })
      }
      const t = median(runs.map((r) => r.t))
      const h = median(runs.map((r) => r.h))
      const mbs = (r: Round) => r.bytes / 1e6 / r.seconds
      const cell = (r: Round) => `${r.seconds.toFixed(1)}${r.failed ? ` (${r.failed} failed)` : r.short ? ' (short)' : ''} | ${mbs(r).toFixed(0)} | ${r.cpu.toFixed(1)}`
      rows.push(`| ${n} | ${cell(t)} | ${cell(h)} | ${(mbs(h) / mbs(t)).toFixed(1)}× | ${(t.cpu / Math.max(h.cpu, 0.01)).toFixed(0)}× |`)
      console.error(`N=${n}: TFTP ${runs.map((r) => r.t.seconds.toFixed(1)).join('/')} s (curl CPU ${t.clientCpu.toFixed(1)} s), HTTP ${runs.map((r) => r.h.seconds.toFixed(1)).join('/')} s (curl CPU ${h.clientCpu.toFixed(1)} s); load ${os.loadavg()[0].toFixed(1)}`)
    }
    console.log(`| N | TFTP wall s | TFTP MB/s | tftpd CPU s | HTTP wall s | HTTP MB/s | lighttpd CPU s | HTTP/TFTP speed | TFTP/HTTP server CPU |`)
    console.log('|---|---|---|---|---|---|---|---|---|')
    for (const row of rows) console.log(row)
  } finally {
    await cleanup()
  }
}

await main()
