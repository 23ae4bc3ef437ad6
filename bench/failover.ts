/**
 * DHCP failover time (a benchmark, not a test): two Kea servers run pxeroot's rendered HA
 * configuration (hot-standby, as `apply --server` writes it for boot1 and boot2, with the lab's
 * delta: interface, lease file, sockets) on one bridge, a client broadcasts a DISCOVER every
 * 100 ms, the primary is lost, and the time until the standby's first OFFER is measured, with
 * the time until its HA hook reports partner-down. Printed per run, then the median, against the
 * configured max-response-delay (the earliest a standby may take over) in the same run.
 * Run as root:
 *   npx tsx bench/failover.ts                      # 5 runs, the primary's kea-dhcp4 killed (SIGKILL)
 *     --runs R                                     # rounds (default 5)
 *     --loss kill|link                             # kill: the process dies, its host answers (TCP RST);
 *                                                  # link: the primary's link goes down, nothing answers
 *     --heartbeat MS --max-response MS             # dhcp.ha.heartbeatDelay / maxResponseDelay (1000 / 4000)
 * Everything runs in network namespaces made for the run (no uplink); every process is ended by
 * PID and every namespace deleted, also on Ctrl-C.
 */
import {promises as fs} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'

import {keaLab} from '../src/backends/dhcp/kea-lab.js'
import {KEA_PATHS} from '../src/backends/dhcp/kea.js'
import {bootNodesFor} from '../src/boot/nodes.js'
import {forServer} from '../src/config/servers.js'
import {parseSite} from '../src/config/site-file.js'
import {parseInventory} from '../src/inventory/inventory.js'
import {peerUrl} from '../src/render/dhcp/kea-ha.js'
import {renderKeaConfig} from '../src/render/dhcp/kea.js'
import {fetchHaState} from '../src/servers/probe.js'
import {startDaemon, type Daemon} from '../src/system/daemon.js'
import {createLabNamespace, joinLabAsServer, labNamespaceName, type LabNamespace} from '../src/system/netns.js'
import {makeRoot} from '../src/system/paths.js'
import {execaRunner, type Runner} from '../src/system/runner.js'

const PROBE = path.resolve(import.meta.dirname, '../test/support/dhcp-probe.mjs')
const CLIENT = '10.79.0.250'
const SERVERS = [{name: 'boot1', address: '10.79.0.1'}, {name: 'boot2', address: '10.79.0.2'}]

interface Options {
  runs: number
  loss: 'kill' | 'link'
  heartbeat: number
  maxResponse: number
}

function parseArgs(argv: string[]): Options {
  const o: Options = {runs: 5, loss: 'kill', heartbeat: 1000, maxResponse: 4000}
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const value = () => argv[++i] ?? (() => {
      throw new Error(`${a} needs a value`)
    })()
    if (a === '--runs') o.runs = Math.max(1, Number(value()))
    else if (a === '--loss') o.loss = value() === 'link' ? 'link' : 'kill'
    else if (a === '--heartbeat') o.heartbeat = Number(value())
    else if (a === '--max-response') o.maxResponse = Number(value())
    else throw new Error(`unknown argument ${a}; usage: failover.ts [--runs R] [--loss kill|link] [--heartbeat MS] [--max-response MS]`)
  }
  return o
}

/** pxeroot's Kea configuration for each server, as apply --server renders it. */
function configs(o: Options): Map<string, string> {
  const site = parseSite([
    'servers:', ...SERVERS.map((s) => `  - {name: ${s.name}, address: ${s.address}}`),
    'subnet: 10.79.0.0/24', 'nodes: {range: 10.79.0.100-10.79.0.200}', 'backends: {dhcp: kea}',
    `dhcp: {interface: eth0, ha: {heartbeatDelay: ${o.heartbeat}, maxResponseDelay: ${o.maxResponse}}}`, '',
  ].join('\n'))
  const inventory = parseInventory('nodes:\n  - {name: node01, ip: 10.79.0.100, mac: "52:54:00:79:00:01"}\n')
  return new Map(SERVERS.map((s) => {
    const view = forServer(site, s.name)
    return [s.name, renderKeaConfig({site: view, nodes: bootNodesFor(view, inventory), dhcpBoot: {bios: 'pxelinux.0'}})]
  }))
}

interface Run {
  /** Primary lost → the standby's first OFFER, and → its HA hook in partner-down. */
  offerS: number
  partnerDownS?: number
}

async function oneRun(runner: Runner, o: Options, texts: Map<string, string>): Promise<Run> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), `pxeroot-lab-${process.pid}-`))
  const daemons: Daemon[] = []
  let lab: LabNamespace | undefined
  const hosts: LabNamespace[] = []
  try {
    // The bridge's own namespace is the client; each server a host of its own on the bridge.
    lab = await createLabNamespace(runner, {name: labNamespaceName(), serverCidr: `${CLIENT}/24`, runDir: path.join(dir, 'lab')})
    // The client broadcasts as a machine without an address does: to 255.255.255.255, on the bridge.
    await runner.run('ip', ['-n', lab.name, 'route', 'add', '255.255.255.255/32', 'dev', lab.bridge], {timeout: 10_000})
    const kea = new Map<string, Daemon>()
    for (const [i, s] of SERVERS.entries()) {
      const runDir = path.join(dir, s.name)
      await fs.mkdir(runDir, {recursive: true})
      const host = await joinLabAsServer(runner, lab, {role: i === 0 ? 'primary' : 'standby', cidr: `${s.address}/24`, runDir})
      hosts.push(host)
      const spec = keaLab({generated: new Map([[KEA_PATHS.config, texts.get(s.name)]]), runDir, iface: host.bridge, root: makeRoot('/'), server: s.address, now: Math.floor(Date.now() / 1000)}, KEA_PATHS.config)
      for (const f of spec.files) await fs.writeFile(path.join(runDir, f.name), f.content)
      const [cmd, args] = host.inLab('kea-dhcp4', spec.args)
      const d = startDaemon(runner, {name: `kea ${s.name}`, command: cmd, args, log: spec.log, timeoutMs: 180_000, run: lab.name, env: spec.env})
      daemons.push(d)
      kea.set(s.name, d)
    }
    const net: Runner = {run: (c, args, options) => runner.run(...lab!.inNet(c, args), options)}
    const site = {servers: SERVERS, dhcp: {ha: {port: 8001}}} as unknown as Parameters<typeof peerUrl>[0]
    const urls = SERVERS.map((s) => peerUrl(site, s))
    for (let t = Date.now(); ; await sleep(250)) {
      const states = await Promise.all(urls.map((u) => fetchHaState(net, u)))
      if (states.every((s) => 'state' in s && s.state === 'hot-standby')) break
      if (Date.now() - t > 60_000) throw new Error(`Kea HA did not come up: ${JSON.stringify(states)}`)
    }
    // The client: a DISCOVER every 100 ms, one line per OFFER.
    const offers = path.join(dir, 'offers.jsonl')
    const [pc, pargs] = lab.inNet(process.execPath, [PROBE, '--mac', '52:54:00:79:00:99', '--every', '100', '--timeout', String(30_000 + o.maxResponse * 3)])
    daemons.push(startDaemon(runner, {name: 'probe', command: pc, args: pargs, log: offers, timeoutMs: 120_000, run: lab.name}))
    await sleep(1500)
    const lost = Date.now()
    if (o.loss === 'link') await runner.run('ip', ['-n', `${lab.name}-primary`, 'link', 'set', 'eth0', 'down'], {timeout: 10_000})
    else {
      const pid = Number((await fs.readFile(path.join(dir, 'boot1', 'kea-dhcp4.kea-dhcp4.pid'), 'utf8')).trim())
      process.kill(pid, 'SIGKILL')
    }
    let partnerDownS: number | undefined
    const standbyUrl = urls[1]
    for (let t = Date.now(); Date.now() - t < 30_000 + o.maxResponse * 3; await sleep(100)) {
      if (partnerDownS === undefined) {
        const s = await fetchHaState(net, standbyUrl)
        if ('state' in s && s.state === 'partner-down') partnerDownS = (Date.now() - lost) / 1000
      }
      const lines = (await fs.readFile(offers, 'utf8').catch(() => '')).split('\n').filter((l) => l.startsWith('{"at"'))
      const first = lines.map((l) => JSON.parse(l) as {at: number, server: string}).find((r) => r.at > lost && r.server === SERVERS[1].address)
      if (first) return {offerS: (first.at - lost) / 1000, partnerDownS}
    }
    throw new Error(`the standby never answered; the client saw: ${(await fs.readFile(offers, 'utf8').catch(() => '')).split('\n').slice(-5).join(' | ')}`)
  } finally {
    await Promise.all(daemons.map((d) => d.stop()))
    for (const h of hosts) await h.destroy()
    if (lab) await lab.destroy()
    await runner.run('rm', ['-rf', '--one-file-system', '--', dir], {reject: false, timeout: 60_000})
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

const o = parseArgs(process.argv.slice(2))
if (process.getuid?.() !== 0) throw new Error('run as root: the benchmark makes network namespaces')
const runner = execaRunner()
const texts = configs(o)
const load = () => os.loadavg().map((l) => l.toFixed(1)).join(' ')
process.stdout.write(`failover: Kea ${(await runner.run('kea-dhcp4', ['-V'])).stdout.split('\n')[0]}, hot-standby, heartbeat ${o.heartbeat} ms, max-response-delay ${o.maxResponse} ms, loss by ${o.loss === 'kill' ? 'SIGKILL of the primary\'s kea-dhcp4' : 'the primary\'s link going down'}; load ${load()}\n`)
const runs: Run[] = []
for (let i = 0; i < o.runs; i++) {
  const r = await oneRun(runner, o, texts)
  runs.push(r)
  process.stdout.write(`  run ${i + 1}: standby's first OFFER ${r.offerS.toFixed(2)} s after the loss, partner-down ${r.partnerDownS?.toFixed(2) ?? '?'} s\n`)
}
const offer = median(runs.map((r) => r.offerS))
process.stdout.write(`median: first OFFER from the standby ${offer.toFixed(2)} s after the primary was lost (${(offer / (o.maxResponse / 1000)).toFixed(2)}x max-response-delay); load ${load()}\n`)
