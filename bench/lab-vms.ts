/**
 * How many lab VMs to boot at once on this machine (a benchmark, not a test): one `lab boot` run
 * of N BIOS nodes of the test suite's golden image (node01 bound by MAC, the others by address),
 * for each N given, under TCG unless --accel says otherwise. Prints, per N: the run's wall time
 * (servers up to every node passed), each node's login-prompt second, the CPU seconds the run
 * took (this process and every child it waited for: qemu, the servers) and the boots per wall
 * minute, with the load average before and after. A run of N VMs that costs about N times one
 * VM's wall time gains nothing from running them side by side; one that costs less does.
 * Run as root:
 *   npx tsx bench/lab-vms.ts [N...]      # default 1 2 3 4
 *     --accel tcg|kvm|auto               (default tcg: CI has no usable KVM)
 *     --firmware bios|uefi               (default bios)
 * The golden image is built on first use (1-3 min, then cached: test/support/golden.ts); the
 * clones and the temp root are removed at the end.
 */
import {promises as fs} from 'node:fs'
import os from 'node:os'

import {type LabBootResult} from '../src/lab/run.js'
import {removeGoldenRoot} from '../test/support/golden.js'
import {labContext, labNodes, labResult} from '../test/support/lab-run.js'

const args = process.argv.slice(2)
const option = (name: string, fallback: string): string => {
  const i = args.indexOf(name)
  if (i < 0) return fallback
  const value = args[i + 1]
  args.splice(i, 2)
  return value
}
const accel = option('--accel', 'tcg') as 'tcg' | 'kvm' | 'auto'
const firmware = option('--firmware', 'bios') as 'bios' | 'uefi'
const counts = args.length > 0 ? args.map(Number) : [1, 2, 3, 4]

/** CPU seconds of this process and of its children that were waited for (qemu and the servers are). */
async function cpuSeconds(): Promise<number> {
  const stat = (await fs.readFile('/proc/self/stat', 'utf8')).split(') ')[1].split(' ')
  // Fields 14-17 of stat(5), counted from the state field (3): utime stime cutime cstime.
  return stat.slice(11, 15).map(Number).reduce((a, b) => a + b, 0) / 100
}

const load = () => os.loadavg().map((l) => l.toFixed(1)).join(' ')

const golden = await labNodes(Math.max(...counts), '52:54:00:be:00:01')
try {
  console.log(`lab VMs at once: ${firmware}, ${accel}, ${os.cpus().length} cores`)
  for (const n of counts) {
    const nodes = Array.from({length: n}, (_, i) => `node${String(i + 1).padStart(2, '0')}`)
    const before = {cpu: await cpuSeconds(), load: load(), at: Date.now()}
    const result: LabBootResult = await labResult(labContext(golden), {nodes, timeout: 600, accel, firmware})
    const wall = (Date.now() - before.at) / 1000
    const cpu = await cpuSeconds() - before.cpu
    const logins = result.nodes.map((r) => (r.passed ? r.milestones.at(-1)?.seconds?.toFixed(0) ?? '?' : `FAIL(${r.missed})`))
    console.log(`N=${n}: ${wall.toFixed(0)} s wall, login at ${logins.join('/')} s, ${cpu.toFixed(0)} CPU s, ${(n / wall * 60).toFixed(2)} boots/min; load ${before.load} -> ${load()}`)
    if (result.logs) await fs.rm(result.logs, {recursive: true, force: true})
  }
} finally {
  await removeGoldenRoot(golden)
}
