import {randomBytes} from 'node:crypto'
import {promises as fs} from 'node:fs'
import path from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'

import {type Runner} from '../system/runner.js'

export const NETNS_PREFIX = 'pxeroot-lab-'
const BRIDGE = 'br0'
const STEP_MS = 20_000

/**
 * The sealed network of one lab run: a network namespace with no uplink and no route out, a
 * bridge holding the server address, one tap per VM; plus a private mount namespace (kept
 * alive by a bind mount of its nsfs file) where the servers get their own /run (rpcbind's
 * socket path is global otherwise) and the lab's tftp overlay.
 */
export interface LabNamespace {
  readonly name: string
  readonly bridge: string
  /** argv that runs a command inside the network namespace. */
  inNet(command: string, args: readonly string[]): [string, string[]]
  /** argv that runs a command inside the network and the private mount namespace. */
  inLab(command: string, args: readonly string[]): [string, string[]]
  addTap(name: string): Promise<void>
  /** Every process still in the network namespace. */
  pids(): Promise<number[]>
  /** Kills what is left by PID, unmounts, deletes the namespaces. Safe to call twice. */
  destroy(): Promise<string[]>
}

/** Owner PID and a random tag: a crashed run's namespace is recognisable and can be reaped. */
export function labNamespaceName(pid = process.pid): string {
  return `${NETNS_PREFIX}${pid}-${randomBytes(3).toString('hex')}`
}

async function killAll(pids: readonly number[], graceMs = 2000): Promise<void> {
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0)
      return true
    } catch {
      return false
    }
  }
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGTERM')
    } catch {}
  }
  const deadline = Date.now() + graceMs
  while (pids.some(alive) && Date.now() < deadline) await sleep(100)
  for (const pid of pids.filter(alive)) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {}
  }
}

async function netnsPids(runner: Runner, name: string): Promise<number[]> {
  const r = await runner.run('ip', ['netns', 'pids', name], {reject: false, timeout: STEP_MS})
  return r.exitCode === 0 ? r.stdout.split(/\s+/).filter(Boolean).map(Number).filter((n) => n > 0 && n !== process.pid) : []
}

export async function createLabNamespace(runner: Runner, opts: {name: string, serverCidr: string, runDir: string}): Promise<LabNamespace> {
  const {name} = opts
  const nsDir = path.join(opts.runDir, 'ns')
  const mntNs = path.join(nsDir, 'mnt')
  const netNs = `/run/netns/${name}`
  const ip = (...args: string[]) => runner.run('ip', args, {timeout: STEP_MS})
  const state = {netns: false, nsDirBound: false, mntNs: false, destroyed: false}

  const ns: LabNamespace = {
    name,
    bridge: BRIDGE,
    inNet: (command, args) => ['nsenter', [`--net=${netNs}`, '--', command, ...args]],
    inLab: (command, args) => ['nsenter', [`--net=${netNs}`, `--mount=${mntNs}`, '--', command, ...args]],
    async addTap(tap) {
      await ip('-n', name, 'tuntap', 'add', 'dev', tap, 'mode', 'tap')
      await ip('-n', name, 'link', 'set', tap, 'master', BRIDGE, 'up')
    },
    pids: () => netnsPids(runner, name),
    async destroy() {
      if (state.destroyed) return []
      state.destroyed = true
      const problems: string[] = []
      const step = async (what: string, fn: () => Promise<unknown>) => {
        try {
          await fn()
        } catch (error) {
          problems.push(`${what}: ${(error as Error).message}`)
        }
      }
      if (state.netns) {
        // tftpd's transfer children ignore SIGTERM and outlive their parent: end every PID left.
        await step('kill leftover processes', async () => killAll(await netnsPids(runner, name)))
      }
      if (state.mntNs) await step('release the mount namespace', () => runner.run('umount', [mntNs], {timeout: STEP_MS}))
      if (state.nsDirBound) await step('unmount the namespace directory', () => runner.run('umount', [nsDir], {timeout: STEP_MS}))
      if (state.netns) {
        await step('delete the network namespace', () => ip('netns', 'delete', name))
      }
      return problems
    },
  }

  try {
    await ip('netns', 'add', name)
    state.netns = true
    await ip('-n', name, 'link', 'set', 'lo', 'up')
    await ip('-n', name, 'link', 'add', BRIDGE, 'type', 'bridge')
    await ip('-n', name, 'addr', 'add', opts.serverCidr, 'dev', BRIDGE)
    await ip('-n', name, 'link', 'set', BRIDGE, 'up')
    // A persistent mount namespace needs its nsfs file on a private mount.
    await fs.mkdir(nsDir, {recursive: true})
    await runner.run('mount', ['--bind', nsDir, nsDir], {timeout: STEP_MS})
    state.nsDirBound = true
    await runner.run('mount', ['--make-private', nsDir], {timeout: STEP_MS})
    await fs.writeFile(mntNs, '')
    await runner.run('unshare', [`--mount=${mntNs}`, '--propagation', 'private', 'true'], {timeout: STEP_MS})
    state.mntNs = true
    const [cmd, args] = ns.inLab('mount', ['-t', 'tmpfs', '-o', 'mode=0755,size=16m', 'pxeroot-lab-run', '/run'])
    await runner.run(cmd, args, {timeout: STEP_MS})
  } catch (error) {
    await ns.destroy()
    throw error
  }
  return ns
}

/**
 * Namespaces of lab runs whose process is gone (killed with SIGKILL, a crashed CI job): end
 * their processes and delete them. Only names this code made, and only when the owner is dead.
 */
export async function reapStaleNamespaces(runner: Runner): Promise<string[]> {
  const r = await runner.run('ip', ['netns', 'list'], {reject: false, timeout: STEP_MS})
  const reaped: string[] = []
  for (const line of r.stdout.split('\n')) {
    const m = new RegExp(`^(${NETNS_PREFIX}(\\d+)-[0-9a-f]+)\\b`).exec(line.trim())
    if (!m) continue
    const owner = Number(m[2])
    let alive = true
    try {
      process.kill(owner, 0)
    } catch {
      alive = false
    }
    if (alive) continue
    await killAll(await netnsPids(runner, m[1]))
    await runner.run('ip', ['netns', 'delete', m[1]], {reject: false, timeout: STEP_MS})
    reaped.push(m[1])
  }
  return reaped
}
