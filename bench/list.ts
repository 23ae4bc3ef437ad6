/** `nodes list` and `status` at 100 and 1,000 nodes (the inventory as pxeroot writes it, and
 * once more after a hand edit of nodes.yaml), measured as whole
 * processes (what an operator waits for), against `pxeroot version` in the same run (the CLI's
 * own start-up). A benchmark, not a test: it prints a table and asserts nothing.
 *
 *   npm run build && npx tsx bench/list.ts [100 1000]     (BENCH_RUNS=9: runs per command)
 */
import {spawnSync} from 'node:child_process'
import {promises as fs, readFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {numberToIp, ipToNumber} from '../src/config/address.js'
import {saveInventory, type InventoryNode} from '../src/inventory/inventory.js'
import {hostFiles} from '../src/system/files.js'
import {makeRoot} from '../src/system/paths.js'

const BIN = path.resolve(import.meta.dirname, '../bin/run.js')
const RUNS = Number(process.env.BENCH_RUNS ?? 9)

async function site(count: number): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), `pxeroot-bench-list-${count}-`))
  await fs.mkdir(path.join(dir, 'etc/pxeroot'), {recursive: true})
  await fs.writeFile(path.join(dir, 'etc/pxeroot/pxeroot.yaml'), 'server: 10.20.0.1\nsubnet: 10.20.0.0/16\nnodes: {range: 10.20.1.0-10.20.200.255, width: 5}\n')
  const base = ipToNumber('10.20.1.0')
  const nodes: InventoryNode[] = []
  for (let i = 0; i < count; i++) {
    const name = `node${String(i + 1).padStart(5, '0')}`
    const mac = i % 2 === 0 ? `52:54:00:${[(i >> 16) & 255, (i >> 8) & 255, i & 255].map((b) => b.toString(16).padStart(2, '0')).join(':')}` : undefined
    nodes.push({name, ip: numberToIp(base + i), ...(mac ? {mac} : {}), image: 'debian-bookworm@1', clone: {method: 'rsync', machineId: '0123456789abcdef0123456789abcdef'}})
    await fs.mkdir(path.join(dir, 'srv/nodes', name, 'etc'), {recursive: true})
  }
  // As nodes clone leaves it: nodes.yaml and its JSON copy (see src/inventory/inventory.ts).
  await saveInventory({root: makeRoot(dir), files: hostFiles}, {nodes})
  await fs.mkdir(path.join(dir, 'srv/pxeroot/images/debian-bookworm/1/rootfs'), {recursive: true})
  await fs.symlink('1', path.join(dir, 'srv/pxeroot/images/debian-bookworm/current'))
  return dir
}

/** CPU seconds (user + system) of this process's waited-for children, from /proc (Linux). */
function childCpu(): number {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ')
  // cutime and cstime are fields 16 and 17 of stat(5), here 13 and 14 after "pid (comm) ".
  return (Number(fields[13]) + Number(fields[14])) / 100
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

/** Median wall and CPU seconds of `pxeroot ARGS --root DIR` over RUNS runs (after one warm-up).
 * CPU time says what a run costs whatever else the machine is doing; wall time what one waits. */
function time(args: string[], root: string): {wall: number, cpu: number} {
  const wall: number[] = []
  const cpu: number[] = []
  for (let i = 0; i <= RUNS; i++) {
    const t0 = process.hrtime.bigint()
    const c0 = childCpu()
    const r = spawnSync(process.execPath, [BIN, ...args, '--root', root], {encoding: 'utf8', maxBuffer: 1 << 28})
    if (r.status !== 0) throw new Error(`pxeroot ${args.join(' ')} failed: ${r.stderr}`)
    if (i > 0) {
      wall.push(Number(process.hrtime.bigint() - t0) / 1e9)
      cpu.push(childCpu() - c0)
    }
  }
  return {wall: median(wall), cpu: median(cpu)}
}

const counts = process.argv.slice(2).map(Number).filter((n) => n > 0)
console.log(`median of ${RUNS} runs; load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`)
console.log('nodes  command                   wall s  vs version   cpu s  vs version')
for (const count of counts.length > 0 ? counts : [100, 1000]) {
  const root = await site(count)
  try {
    const baseline = time(['version'], root)
    const row = (what: string, t: {wall: number, cpu: number}) => console.log(`${String(count).padStart(5)}  ${what.padEnd(24)} ${t.wall.toFixed(2).padStart(7)}  ${`${(t.wall / baseline.wall).toFixed(1)}x`.padStart(10)} ${t.cpu.toFixed(2).padStart(7)}  ${`${(t.cpu / baseline.cpu).toFixed(1)}x`.padStart(10)}`)
    row('version', baseline)
    for (const args of [['nodes', 'list'], ['nodes', 'list', '--json'], ['status'], ['status', '--json']]) row(args.join(' '), time(args, root))
    // A hand edit: read from the YAML itself until pxeroot next writes the inventory.
    await fs.appendFile(path.join(root, 'etc/pxeroot/nodes.yaml'), '# edited by hand\n')
    row('nodes list, hand-edited', time(['nodes', 'list'], root))
  } finally {
    await fs.rm(root, {recursive: true, force: true})
  }
}
