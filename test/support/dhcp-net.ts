import {randomBytes} from 'node:crypto'
import {promises as fs} from 'node:fs'
import path from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'

import {type LabDaemon} from '../../src/backends/types.js'
import {startDaemon, type Daemon} from '../../src/system/daemon.js'
import {execaRunner} from '../../src/system/runner.js'

const PROBE = path.join(import.meta.dirname, 'dhcp-probe.mjs')
const runner = execaRunner()
const ip = (...args: string[]) => runner.run('ip', args, {timeout: 10_000})

export interface Reply {
  yiaddr: string
  siaddr: string
  file: string
  options: Record<string, string>
}

export interface ProbeResult {
  offer: Reply | null
  ack: Reply | null
}

export interface ProbeOptions {
  mac: string
  arch?: number
  /** A client identifier option: true for 01+MAC (iPXE, pxelinux), or hex bytes (another stage's). */
  clientId?: boolean | string
  userClass?: string
  /** As the initramfs asks: no option 93, no client identifier. */
  ipconfig?: boolean
  request?: boolean
}

/**
 * Two network namespaces this test creates, joined by a veth pair and reaching nothing else:
 * the server side holds the server address on SERVER_IF, the client side has no address (as PXE
 * firmware) and a broadcast route. Daemons run in the server side, bounded, ended by PID.
 */
export interface DhcpNet {
  readonly serverIf: string
  /** A lab hook's daemon: its files written into runDir, its output to its log, until it serves. */
  start(daemon: LabDaemon, runDir: string): Promise<Daemon>
  probe(options: ProbeOptions): Promise<ProbeResult>
  destroy(): Promise<void>
}

export async function dhcpNet(serverCidr: string): Promise<DhcpNet> {
  const tag = `${process.pid}-${randomBytes(2).toString('hex')}`
  const server = `pxeroot-test-${tag}-s`
  const client = `pxeroot-test-${tag}-c`
  const serverIf = 'pxr0'
  const daemons: Daemon[] = []
  const destroy = async () => {
    await Promise.all(daemons.map((d) => d.stop()))
    for (const ns of [server, client]) await ip('netns', 'del', ns).catch(() => undefined)
  }
  try {
    await ip('netns', 'add', server)
    await ip('netns', 'add', client)
    await ip('-n', server, 'link', 'add', serverIf, 'type', 'veth', 'peer', 'name', 'pxr1', 'netns', client)
    await ip('-n', server, 'addr', 'add', serverCidr, 'dev', serverIf)
    await ip('-n', server, 'link', 'set', serverIf, 'up')
    await ip('-n', server, 'link', 'set', 'lo', 'up')
    await ip('-n', client, 'link', 'set', 'pxr1', 'up')
    await ip('-n', client, 'route', 'add', '255.255.255.255/32', 'dev', 'pxr1')
  } catch (error) {
    await destroy()
    throw error
  }
  return {
    serverIf,
    async start(spec, runDir) {
      for (const f of spec.files) {
        await fs.writeFile(path.join(runDir, f.name), f.content)
        await fs.chmod(path.join(runDir, f.name), f.mode ?? 0o644)
      }
      const env = Object.entries(spec.env ?? {}).map(([k, v]) => `${k}=${v}`)
      const daemon = startDaemon(runner, {name: spec.program, command: 'ip', args: ['netns', 'exec', server, 'env', ...env, spec.program, ...spec.args], log: spec.log, timeoutMs: 120_000})
      daemons.push(daemon)
      for (let i = 0; i < 100; i++) {
        const text = await fs.readFile(spec.log, 'utf8').catch(() => '')
        if (text.includes(spec.ready)) return daemon
        if (daemon.ended) break
        await sleep(100)
      }
      throw new Error(`${spec.program} did not start serving: ${(await fs.readFile(spec.log, 'utf8').catch(() => '')).slice(-1500)}`)
    },
    async probe(o) {
      const args = [PROBE, '--mac', o.mac, '--arch', String(o.arch ?? 0), ...(o.clientId ? ['--client-id', o.clientId === true ? 'mac' : o.clientId] : []),
        ...(o.userClass ? ['--user-class', o.userClass] : []), ...(o.ipconfig ? ['--ipconfig'] : []), ...(o.request ? ['--request'] : [])]
      const r = await runner.run('ip', ['netns', 'exec', client, process.execPath, ...args], {timeout: 20_000})
      return JSON.parse(r.stdout) as ProbeResult
    },
    destroy,
  }
}

/** The PID a daemon wrote to its pid file, to signal it as systemd's ExecReload would. */
export async function pidFrom(file: string): Promise<number> {
  return Number((await fs.readFile(file, 'utf8')).trim())
}
