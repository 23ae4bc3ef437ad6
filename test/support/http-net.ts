/**
 * A sealed two-namespace network for the web server's tests and the boot-storm benchmark: a
 * server namespace with a bridge holding the server address, and a client namespace joined to
 * it by a veth pair (MTU 1500, like a real boot network) holding the client addresses. No
 * uplink, no route out. Every process started in it is ended by PID, then both namespaces go.
 */
import {randomBytes} from 'node:crypto'
import {execa, type ResultPromise} from 'execa'

import {killAll} from '../../src/system/processes.js'

export interface HttpNetOptions {
  /** The server's address on the boot network, CIDR (e.g. 192.168.0.10/24). */
  server: string
  /** Client addresses, CIDR; the first is the client's own. */
  clients: readonly string[]
  /** A network outside the boot subnet the server routes back to (a client "from elsewhere"), CIDR. */
  outside?: string
}

export interface HttpNet {
  readonly server: string
  readonly client: string
  /** argv that runs a command in the server (or client) namespace. */
  inServer(argv: readonly string[]): string[]
  inClient(argv: readonly string[]): string[]
  /** Starts a long-running process in the server namespace, bounded by timeoutMs, its output to a file. */
  start(argv: readonly string[], timeoutMs: number, log: string): ResultPromise
  /** Kills whatever runs in either namespace by PID and deletes both. Safe to call twice. */
  destroy(): Promise<void>
}

async function ip(...args: string[]): Promise<void> {
  await execa('ip', args, {timeout: 20_000})
}

async function pidsIn(ns: string): Promise<number[]> {
  const r = await execa('ip', ['netns', 'pids', ns], {reject: false, timeout: 20_000})
  return String(r.stdout).split(/\s+/).filter(Boolean).map(Number).filter((n) => n > 0 && n !== process.pid)
}

export async function createHttpNet(opts: HttpNetOptions, prefix = 'pxeroot-web'): Promise<HttpNet> {
  const tag = `${process.pid}-${randomBytes(3).toString('hex')}`
  const server = `${prefix}-srv-${tag}`
  const client = `${prefix}-cli-${tag}`
  const created: string[] = []
  const net: HttpNet = {
    server,
    client,
    inServer: (argv) => ['ip', 'netns', 'exec', server, ...argv],
    inClient: (argv) => ['ip', 'netns', 'exec', client, ...argv],
    start(argv, timeoutMs, log) {
      const [cmd, ...args] = net.inServer(argv)
      return execa(cmd, args, {timeout: timeoutMs, reject: false, stdin: 'ignore', stdout: {file: log, append: true}, stderr: {file: log, append: true}})
    },
    async destroy() {
      for (const ns of created.splice(0)) {
        await killAll(await pidsIn(ns))
        await execa('ip', ['netns', 'delete', ns], {reject: false, timeout: 20_000})
      }
    },
  }
  try {
    for (const ns of [server, client]) {
      await ip('netns', 'add', ns)
      created.push(ns)
      await ip('-n', ns, 'link', 'set', 'lo', 'up')
    }
    await ip('-n', server, 'link', 'add', 'br0', 'type', 'bridge')
    await ip('-n', server, 'addr', 'add', opts.server, 'dev', 'br0')
    await ip('-n', server, 'link', 'set', 'br0', 'up')
    await ip('-n', server, 'link', 'add', 'veth-srv', 'mtu', '1500', 'type', 'veth', 'peer', 'name', 'veth-cli', 'mtu', '1500', 'netns', client)
    await ip('-n', server, 'link', 'set', 'veth-srv', 'master', 'br0', 'up')
    for (const cidr of opts.clients) await ip('-n', client, 'addr', 'add', cidr, 'dev', 'veth-cli')
    if (opts.outside) {
      await ip('-n', client, 'addr', 'add', opts.outside, 'dev', 'veth-cli')
      await ip('-n', server, 'route', 'add', networkOf(opts.outside), 'dev', 'br0')
    }
    await ip('-n', client, 'link', 'set', 'veth-cli', 'up')
  } catch (error) {
    await net.destroy()
    throw error
  }
  return net
}

/** 10.99.9.2/24 -> 10.99.9.0/24 (enough for the /8, /16 and /24 networks tests use). */
function networkOf(cidr: string): string {
  const [addr, len] = cidr.split('/')
  const keep = Number(len) / 8
  return `${addr.split('.').map((o, i) => (i < keep ? o : '0')).join('.')}/${len}`
}

/** Waits until something listens on address:port in the server namespace (lighttpd, tftpd take a moment). */
export async function waitListening(net: HttpNet, address: string, port: number, proto: 'tcp' | 'udp', timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const [cmd, ...args] = net.inServer(['ss', proto === 'tcp' ? '-ltnH' : '-lunH'])
    const r = await execa(cmd, args, {reject: false, timeout: 10_000})
    if (String(r.stdout).split('\n').some((l) => l.includes(`${address}:${port} `))) return
    if (Date.now() > deadline) throw new Error(`nothing listens on ${proto} ${address}:${port} after ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}
