/**
 * What the lab's CI cases share: a golden root with the site they boot, the lab run as the
 * command would do it, and the check that a run left nothing behind (only this test process's
 * runs count: other engineers' VMs and servers may share the machine).
 */
import {execa} from 'execa'
import {existsSync, promises as fs} from 'node:fs'
import {expect, inject} from 'vitest'

import {type Accel} from '../../src/lab/qemu.js'
import {labReport} from '../../src/lab/report.js'
import {type LabBootOptions, type LabBootResult, type LabNodeResult} from '../../src/lab/run.js'
import {labBoot} from '../../src/services/lab-boot.js'
import {type Context} from '../../src/system/context.js'
import {RUN_ENV} from '../../src/system/daemon.js'
import {hostFiles} from '../../src/system/files.js'
import {NETNS_PREFIX} from '../../src/system/netns.js'
import {STATE} from '../../src/system/paths.js'
import {execaRunner} from '../../src/system/runner.js'
import {type Golden, goldenImage, runCommand} from './golden.js'
import {autoIsTcgMark} from './run-marks.js'

export const isRoot = process.getuid?.() === 0

function runOwner(): number {
  try {
    return inject('testRunPid') ?? process.pid
  } catch {
    return process.pid
  }
}

/**
 * The accelerator the lab cases ask for: PXEROOT_LAB_ACCEL when set (tcg: time the lab as CI
 * sees it, on a KVM machine); else auto, as `lab boot` defaults to, until a lab run of this vitest
 * run found that auto means TCG here. Where /dev/kvm opens but its guests reset (this machine and
 * CI's), auto tries KVM first: ~17 s of a resetting VM and the servers started twice, per run. A
 * file that starts after the first such run asks for tcg at once (within a file the lab remembers
 * it itself: lab/qemu.ts).
 */
export const ACCEL = (process.env.PXEROOT_LAB_ACCEL ?? (existsSync(autoIsTcgMark(runOwner())) ? 'tcg' : 'auto')) as Accel

/** Whether a program is installed (a lab case skips when its daemon is not). */
export async function installed(program: string): Promise<boolean> {
  return (await execa('sh', ['-c', `command -v ${program}`], {reject: false, env: {PATH: `${process.env.PATH}:/usr/sbin:/sbin`}})).exitCode === 0
}

export function labContext(golden: Golden, signal = new AbortController().signal): Context & {lines: string[]} {
  const lines: string[] = []
  return {root: golden.root, runner: execaRunner(), files: hostFiles, log: (l) => lines.push(l), signal, json: false, lines}
}

/** The golden root with its site file changed (backends, dhcp, boot settings): `edit` gets the text and returns the new one. */
export async function labGolden(edit: (site: string) => string = (s) => s): Promise<Golden> {
  const golden = await goldenImage()
  const file = golden.root.resolve(STATE.siteFile)
  await fs.writeFile(file, edit(await fs.readFile(file, 'utf8')))
  return golden
}

/** A lab run's result, passed or not (a run whose nodes did not boot fails with the run's result attached). */
export async function labResult(ctx: Context, options: LabBootOptions): Promise<LabBootResult> {
  let result: LabBootResult
  try {
    result = await labBoot(ctx, options)
  } catch (error) {
    const failed = (error as {result?: LabBootResult}).result
    if (!failed) throw error
    result = failed
  }
  if ((options.accel ?? 'auto') === 'auto' && result.accel === 'tcg') await fs.writeFile(autoIsTcgMark(runOwner()), '')
  return result
}

/** A lab run as `lab boot` does it; a run whose nodes did not boot gives its result too. Its report goes to stderr (boot times in CI's log). */
export async function bootInLab(golden: Golden, nodes: string[], extra: Partial<LabBootOptions> = {}): Promise<LabBootResult> {
  const result = await labResult(labContext(golden), {nodes, timeout: 420, accel: ACCEL, ...extra})
  process.stderr.write(labReport(result))
  return result
}

/** The `ps` lines of processes a lab run of this test process started (they carry its run in their environment). */
async function ours(lines: string[]): Promise<string[]> {
  const out: string[] = []
  for (const line of lines) {
    const environ = await fs.readFile(`/proc/${line.trim().split(/\s+/)[0]}/environ`, 'latin1').catch(() => '')
    if (environ.includes(`${RUN_ENV}=${NETNS_PREFIX}${process.pid}-`)) out.push(line)
  }
  return out
}

/** Namespaces, mounts and processes this test process's lab runs left; all empty after every run. */
export async function leftovers(): Promise<{namespaces: string[], mounts: string[], processes: string[]}> {
  const ns = await execa('ip', ['netns', 'list'])
  const mounts = await fs.readFile('/proc/self/mountinfo', 'utf8')
  const ps = await execa('ps', ['-eo', 'pid,args'])
  return {
    namespaces: ns.stdout.split('\n').filter((l) => l.startsWith(`${NETNS_PREFIX}${process.pid}-`)),
    mounts: mounts.split('\n').filter((l) => l.includes(`${NETNS_PREFIX}${process.pid}-`)),
    processes: await ours(ps.stdout.split('\n').filter((l) => /pxeroot-lab-|qemu-system|dhcpd -f|kea-dhcp4|dnsmasq|lighttpd|in\.tftpd|ganesha\.nfsd|rpcbind -f/.test(l) && !l.includes('ps -eo'))),
  }
}

/** Every milestone reached, in boot order (a later one never seen before an earlier one). */
export function milestonesInOrder(node: LabNodeResult): boolean {
  const times = node.milestones.map((m) => m.seconds)
  return times.every((t) => t !== undefined) && [...times].sort((a, b) => a! - b!).every((t, i) => t === times[i])
}

/** Clones `count` nodes from the golden revision and binds the given ones by MAC (the others stay bound by address). */
export async function cloneNodes(golden: Golden, count: number, macs: Record<string, string> = {}): Promise<void> {
  const {default: NodesClone} = await import('../../src/commands/nodes/clone.js')
  const {default: NodesSet} = await import('../../src/commands/nodes/set.js')
  const root = ['--root', golden.rootPrefix]
  const clone = await runCommand(NodesClone, [String(count), ...root])
  if (clone.code !== 0) throw clone.error
  for (const [node, mac] of Object.entries(macs)) {
    const bind = await runCommand(NodesSet, [node, '--mac', mac, ...root])
    if (bind.code !== 0) throw bind.error
  }
}

/**
 * A golden root (goldenImage) with node01..node<count> cloned from the golden revision, node01
 * bound by `mac01` and the others by address; `site` is added to the site file first.
 */
export async function labNodes(count: number, mac01: string, site = ''): Promise<Golden> {
  const golden = await labGolden((text) => text + site)
  await cloneNodes(golden, count, {node01: mac01})
  return golden
}

/** The machine-id each node's clone was given: what its console must show. */
export async function machineIdsOf(golden: Golden, names: string[]): Promise<string[]> {
  return Promise.all(names.map(async (n) => (await fs.readFile(golden.root.resolve(`${golden.site.paths.nodes}/${n}/etc/machine-id`), 'utf8')).trim()))
}

/** The golden site with another DHCP server on the boot network's interface (Kea and dnsmasq need one named). */
export const withDhcp = (backend: 'kea' | 'dnsmasq') => (site: string): string => site.replace('  nfs: ganesha\n', `  nfs: ganesha\n  dhcp: ${backend}\ndhcp:\n  interface: eth0\n`)

/** A node that booted its own root with one address: the firmware's, the initramfs's and every one the DHCP server acknowledged to its MAC; its milestones in boot order. */
export function expectBootedWithOneAddress(node: LabNodeResult): void {
  expect(node.addresses, node.name).toEqual({firmware: node.ip, initramfs: node.ip})
  expect(node.acks.length, `${node.name}: ${node.acks.join(', ')}`).toBeGreaterThanOrEqual(2)
  expect(new Set(node.acks), node.name).toEqual(new Set([node.ip]))
  expect(milestonesInOrder(node), JSON.stringify(node.milestones)).toBe(true)
}

/** node01 (bound by `mac`) and node02 (bound by address, 10.77.0.101 from the dynamic range) booted in one run, each into its own root. */
export async function bootMacAndAddressBound(golden: Golden, mac: string, extra: Partial<LabBootOptions> = {}): Promise<LabBootResult> {
  const result = await bootInLab(golden, ['node01', 'node02'], extra)
  const [n1, n2] = result.nodes
  expect(n1, n1.reason).toMatchObject({name: 'node01', passed: true, boundBy: 'mac', mac, hostname: 'node01'})
  expect(n2, n2.reason).toMatchObject({name: 'node02', passed: true, boundBy: 'ip', ip: '10.77.0.101', hostname: 'node02'})
  for (const n of result.nodes) expectBootedWithOneAddress(n)
  // `pxeroot status`, read from the server's own lease database and the NFS connections before teardown.
  expect(result.status?.nodes.map((s) => [s.name, s.state, s.lease?.mac ?? null, s.rootMounted])).toEqual([['node01', 'up', mac, true], ['node02', 'up', n2.mac, true]])
  return result
}
