/**
 * Boot from RBD vs NFS (a benchmark, not a test): the same golden image, the same lab, the same
 * machine, in one run. Two nodes boot their NFS roots (clones on this server, exported by
 * NFS-Ganesha in the lab), two boot their own RBD clones of the same revision, mapped by their own
 * kernels from a throwaway single-host cluster (`pxeroot lab ceph`) that the lab joins. Each
 * The RBD pair is made as a user makes it: a second site, `storage prepare --rbd` on the cluster,
 * the golden revision imported into its pool, `nodes clone 2`, `apply`. Each
 * round boots the NFS pair, then the RBD pair (the order alternates between rounds), two VMs side
 * by side each time, and reads from the lab's milestones: the root mounted (NFS mount, or map +
 * mount of /dev/rbd0) and the login prompt, seconds after the VM started; and how long the RBD
 * nodes took to shut down cleanly. Prints every round, the medians and the RBD/NFS ratios, with
 * the load average. Run as root:
 *   npx tsx bench/rbd-boot.ts [--rounds R] [--timeout S]
 * The golden image is the test suite's (built on first use, then cached: test/support/golden.ts).
 * Everything is removed at the end: the cluster (by PID, purged), the clones, the temp roots.
 */
import {promises as fs} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {cephLabAddress, startCephLab, stopCephLab} from '../src/lab/ceph.js'
import {type LabBootResult, type LabNodeResult} from '../src/lab/run.js'
import {labBoot} from '../src/services/lab-boot.js'
import {makeContext} from '../src/system/context.js'
import {clusterClient} from '../test/support/ceph-client.js'
import {goldenImage, removeGoldenRoot, runCommand} from '../test/support/golden.js'
import {importGolden, rbdSite, type RbdSite} from '../test/support/rbd-site.js'

interface Options {
  rounds: number
  timeoutS: number
}

function parseArgs(argv: string[]): Options {
  const o: Options = {rounds: 2, timeoutS: 600}
  for (let i = 0; i < argv.length; i++) {
    const value = () => Number(argv[++i])
    if (argv[i] === '--rounds') o.rounds = value()
    else if (argv[i] === '--timeout') o.timeoutS = value()
    else throw new Error(`unknown argument ${argv[i]}`)
  }
  return o
}

/** The same names on both sites: each pair boots from its own site. */
const NODES = ['node01', 'node02']
const log = (line: string) => process.stderr.write(`${line}\n`)
const load = () => os.loadavg().map((l) => l.toFixed(1)).join(' ')

interface Sample {
  kind: 'nfs' | 'rbd'
  /** From the initramfs's lease to the root mounted: the NFS mount, or map + mount. */
  step: number
  root: number
  login: number
  shutdown?: number
}

function samples(kind: Sample['kind'], result: LabBootResult): Sample[] {
  const at = (n: LabNodeResult, id: string) => n.milestones.find((m) => m.id === id)?.seconds
  return result.nodes.map((n) => {
    const root = at(n, kind === 'nfs' ? 'nfsroot' : 'rbdroot')
    const lease = at(n, 'ipconfig')
    const login = at(n, 'login')
    if (!n.passed || root === undefined || lease === undefined || login === undefined) throw new Error(`${n.name} did not boot (${kind}): missed ${n.missed} (${n.reason})`)
    return {kind, step: root - lease, root, login, shutdown: n.shutdown?.seconds}
  })
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2))
  if (process.getuid?.() !== 0) throw new Error('run it as root (network namespaces, VMs, a cluster)')
  log(`load average at start: ${load()}`)
  const golden = await goldenImage()
  const ctx = makeContext({root: golden.root, log})
  const root = ['--root', golden.rootPrefix]
  const clusterDir = await fs.mkdtemp(path.join(os.tmpdir(), 'pxeroot-bench-ceph-'))
  let rbd: RbdSite | undefined
  try {
    const started = await startCephLab(ctx, undefined, {dir: clusterDir, address: cephLabAddress(golden.site), osdGiB: 20, lifetimeMinutes: 180})
    const {default: NodesClone} = await import('../src/commands/nodes/clone.js')
    const {default: NodesSet} = await import('../src/commands/nodes/set.js')
    const {default: Apply} = await import('../src/commands/apply.js')
    const ok = async (p: Promise<{code: number, error?: Error}>) => {
      const r = await p
      if (r.code !== 0) throw r.error
    }
    // NFS: clones on this server, bound by MAC.
    await ok(runCommand(NodesClone, ['2', ...root]))
    for (const [i, node] of NODES.entries()) await ok(runCommand(NodesSet, [node, '--mac', `52:54:00:17:10:0${i + 1}`, ...root]))
    await ok(runCommand(Apply, root))
    // RBD: a site of its own on the cluster, the same revision imported into its pool, clones with their keys and identity.
    rbd = await rbdSite(clusterClient(started))
    await importGolden(rbd)
    await ok(runCommand(NodesClone, ['2', ...rbd.root]))
    for (const [i, node] of NODES.entries()) await ok(runCommand(NodesSet, [node, '--mac', `52:54:00:17:10:0${i + 3}`, ...rbd.root]))
    await ok(runCommand(Apply, rbd.root))
    const rbdCtx = makeContext({root: rbd.ctx.root, log})

    const all: Sample[] = []
    for (let round = 1; round <= o.rounds; round++) {
      const order: Sample['kind'][] = round % 2 ? ['nfs', 'rbd'] : ['rbd', 'nfs']
      for (const kind of order) {
        const before = load()
        const result = await labBoot(kind === 'nfs' ? ctx : rbdCtx, {nodes: NODES, timeout: o.timeoutS, accel: 'tcg'})
        const got = samples(kind, result)
        all.push(...got)
        log(`round ${round} ${kind.toUpperCase()}: lease to root ${got.map((s) => s.step.toFixed(1)).join(', ')} s; root mounted ${got.map((s) => s.root.toFixed(1)).join(', ')} s; login ${got.map((s) => s.login.toFixed(1)).join(', ')} s${kind === 'rbd' ? `; clean shutdown ${got.map((s) => s.shutdown?.toFixed(1) ?? '-').join(', ')} s` : ''} (load ${before} -> ${load()})`)
      }
    }
    const of = (kind: Sample['kind'], key: 'step' | 'root' | 'login') => median(all.filter((s) => s.kind === kind).map((s) => s[key]))
    const rows = [
      ['initramfs lease to root mounted', of('nfs', 'step'), of('rbd', 'step')],
      ['root mounted', of('nfs', 'root'), of('rbd', 'root')],
      ['login prompt', of('nfs', 'login'), of('rbd', 'login')],
    ] as const
    process.stdout.write(`\nBoot of 2 VMs side by side, TCG, medians over ${o.rounds} round(s) x 2 VMs (seconds after the VM started; load average at the end ${load()})\n`)
    process.stdout.write(`| milestone | NFS (Ganesha) | RBD (own clone) | RBD/NFS |\n|---|---|---|---|\n`)
    for (const [label, nfs, rbd] of rows) process.stdout.write(`| ${label} | ${nfs.toFixed(1)} | ${rbd.toFixed(1)} | ${nfs > 0 ? (rbd / nfs).toFixed(2) : '-'} |\n`)
    const downs = all.flatMap((s) => (s.shutdown === undefined ? [] : [s.shutdown]))
    if (downs.length > 0) process.stdout.write(`RBD nodes' clean shutdown: median ${median(downs).toFixed(1)} s\n`)
  } finally {
    await rbd?.cleanup().catch((error: Error) => log(`rbd site cleanup: ${error.message}`))
    await stopCephLab(ctx, clusterDir, {purge: true}).catch((error: Error) => log(`cluster stop: ${error.message}`))
    await removeGoldenRoot(golden)
  }
}

main().catch((error: Error) => {
  process.stderr.write(`bench failed: ${error.stack ?? error.message}\n`)
  process.exitCode = 1
})
