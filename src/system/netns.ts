import {randomBytes} from 'node:crypto'
import {promises as fs} from 'node:fs'
import path from 'node:path'

import {bindMount, makePrivate, mountFs, unmount} from './mounts.js'
import {isAlive, killAll} from './processes.js'
import {type Runner} from './runner.js'

export const NETNS_PREFIX = 'pxeroot-lab-'
const BRIDGE = 'br0'
const STEP_MS = 20_000

/**
 * The sealed network of one lab run: a network namespace with no uplink and no route out, a
 * bridge holding the server address, one tap per VM; plus a private mount namespace (kept
 * alive by a bind mount of its nsfs file) where the servers get their own /run (rpcbind's
 * socket path is global otherwise) and whatever the lab mounts for them.
 */
export interface LabNamespace {
  readonly name: string
  readonly bridge: string
  /** argv that runs a command inside the network namespace. */
  inNet(command: string, args: readonly string[]): [string, string[]]
  /** argv that runs a command inside the network and the private mount namespace. */
  inLab(command: string, args: readonly string[]): [string, string[]]
  addTap(name: string): Promise<void>
  /** Another address of the lab network's side that this namespace answers on (a lab BMC's). */
  addAddress(cidr: string): Promise<void>
  /** Another machine on the lab network: a namespace of its own joined to the bridge (the
   * network's own DHCP server in proxy mode), holding `cidr` on its interface. */
  addHost(role: string, cidr: string): Promise<LabHost>
  /** argv prefix that enters the private mount namespace (for mounts made inside it). */
  readonly enterMounts: readonly string[]
  /** Every process still in the network namespace. */
  pids(): Promise<number[]>
  /** Kills what is left by PID, unmounts, deletes the namespaces. Safe to call twice. */
  destroy(): Promise<string[]>
}

/** A machine of the lab network beside the server (labNamespace.addHost). */
export interface LabHost {
  /** Its interface on the lab network. */
  readonly iface: string
  /** argv that runs a command there. */
  inHost(command: string, args: readonly string[]): [string, string[]]
}

/** Owner PID and a random tag: a crashed run's namespace is recognisable and can be reaped. */
export function labNamespaceName(pid = process.pid): string {
  return `${NETNS_PREFIX}${pid}-${randomBytes(3).toString('hex')}`
}

async function netnsPids(runner: Runner, name: string): Promise<number[]> {
  const r = await runner.run('ip', ['netns', 'pids', name], {reject: false, timeout: STEP_MS})
  return r.exitCode === 0 ? r.stdout.split(/\s+/).filter(Boolean).map(Number).filter((n) => n > 0 && n !== process.pid) : []
}

/** Cleanup steps that each run whatever failed before them, collecting what went wrong. */
function cleanupSteps(): {problems: string[], step: (what: string, fn: () => Promise<unknown>) => Promise<void>} {
  const problems: string[] = []
  return {
    problems,
    async step(what, fn) {
      try {
        await fn()
      } catch (error) {
        problems.push(`${what}: ${(error as Error).message}`)
      }
    },
  }
}

/**
 * A private mount namespace kept alive by a bind mount of its nsfs file under `runDir` (which
 * needs a private mount of its own), with its own tmpfs /run: where a lab server's daemons get
 * their own rpcbind socket and whatever the lab mounts for them. `state` records each step done,
 * for releaseMounts.
 */
async function privateMounts(runner: Runner, runDir: string, state: {nsDirBound: boolean, mntNs: boolean}): Promise<{mntNs: string, enterMounts: string[]}> {
  const nsDir = path.join(runDir, 'ns')
  const mntNs = path.join(nsDir, 'mnt')
  await fs.mkdir(nsDir, {recursive: true})
  await bindMount(runner, nsDir, nsDir)
  state.nsDirBound = true
  await makePrivate(runner, nsDir)
  await fs.writeFile(mntNs, '')
  await runner.run('unshare', [`--mount=${mntNs}`, '--propagation', 'private', 'true'], {timeout: STEP_MS})
  state.mntNs = true
  const enterMounts = ['nsenter', `--mount=${mntNs}`, '--']
  await mountFs(runner, 'tmpfs', 'pxeroot-lab-run', '/run', 'mode=0755,size=16m', {enter: enterMounts})
  return {mntNs, enterMounts}
}

/** Undoes what privateMounts did, as far as it got. */
async function releaseMounts(runner: Runner, runDir: string, state: {nsDirBound: boolean, mntNs: boolean}, step: (what: string, fn: () => Promise<unknown>) => Promise<void>): Promise<void> {
  if (state.mntNs) await step('release the mount namespace', () => unmount(runner, path.join(runDir, 'ns', 'mnt')))
  if (state.nsDirBound) await step('unmount the namespace directory', () => unmount(runner, path.join(runDir, 'ns')))
}

export async function createLabNamespace(runner: Runner, opts: {name: string, serverCidr: string, runDir: string}): Promise<LabNamespace> {
  const {name} = opts
  const mntNs = path.join(opts.runDir, 'ns', 'mnt')
  const netNs = `/run/netns/${name}`
  const ip = (...args: string[]) => runner.run('ip', args, {timeout: STEP_MS})
  const state = {netns: false, nsDirBound: false, mntNs: false, destroyed: false, hosts: [] as string[]}

  const ns: LabNamespace = {
    name,
    bridge: BRIDGE,
    inNet: (command, args) => ['nsenter', [`--net=${netNs}`, '--', command, ...args]],
    inLab: (command, args) => ['nsenter', [`--net=${netNs}`, `--mount=${mntNs}`, '--', command, ...args]],
    enterMounts: ['nsenter', `--mount=${mntNs}`, '--'],
    async addTap(tap) {
      await ip('-n', name, 'tuntap', 'add', 'dev', tap, 'mode', 'tap')
      await ip('-n', name, 'link', 'set', tap, 'master', BRIDGE, 'up')
    },
    async addAddress(cidr) {
      await ip('-n', name, 'addr', 'add', cidr, 'dev', BRIDGE)
    },
    async addHost(role, cidr) {
      const host = `${name}-${role}`
      await ip('netns', 'add', host)
      state.hosts.push(host)
      await ip('-n', host, 'link', 'set', 'lo', 'up')
      await ip('-n', name, 'link', 'add', `to-${role}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', host)
      await ip('-n', name, 'link', 'set', `to-${role}`, 'master', BRIDGE, 'up')
      await ip('-n', host, 'addr', 'add', cidr, 'dev', 'eth0')
      await ip('-n', host, 'link', 'set', 'eth0', 'up')
      return {iface: 'eth0', inHost: (command, args) => ['nsenter', [`--net=/run/netns/${host}`, '--', command, ...args]]}
    },
    pids: () => netnsPids(runner, name),
    async destroy() {
      if (state.destroyed) return []
      state.destroyed = true
      const {problems, step} = cleanupSteps()
      if (state.netns) {
        // tftpd's transfer children ignore SIGTERM and outlive their parent: end every PID left.
        await step('kill leftover processes', async () => killAll(await netnsPids(runner, name)))
      }
      for (const host of state.hosts) {
        await step(`kill leftover processes of ${host}`, async () => killAll(await netnsPids(runner, host)))
        await step(`delete the network namespace ${host}`, () => ip('netns', 'delete', host))
      }
      await releaseMounts(runner, opts.runDir, state, step)
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
    await privateMounts(runner, opts.runDir, state)
  } catch (error) {
    await ns.destroy()
    throw error
  }
  return ns
}

/**
 * One more server on a lab network (lab/pair.ts: a site's second boot server): a network namespace
 * of its own joined to the lab's bridge, holding `cidr` on its eth0, with a private mount
 * namespace and /run of its own (its rpcbind and mounts are its own), its state under `runDir`.
 * VMs stay on the lab's own network: this view adds no taps. destroy() ends what runs in it by
 * PID and deletes it (the lab's destroy deletes it too, as one of its hosts).
 */
export async function joinLabAsServer(runner: Runner, lab: LabNamespace, opts: {role: string, cidr: string, runDir: string}): Promise<LabNamespace> {
  const host = await lab.addHost(opts.role, opts.cidr)
  const name = `${lab.name}-${opts.role}`
  const netNs = `/run/netns/${name}`
  const state = {nsDirBound: false, mntNs: false, destroyed: false}
  const view: LabNamespace = {
    name,
    bridge: host.iface,
    inNet: host.inHost,
    inLab: (command, args) => ['nsenter', [`--net=${netNs}`, `--mount=${path.join(opts.runDir, 'ns', 'mnt')}`, '--', command, ...args]],
    enterMounts: ['nsenter', `--mount=${path.join(opts.runDir, 'ns', 'mnt')}`, '--'],
    addTap: async () => {
      throw new Error('internal: VMs join the lab\'s own network, not a server\'s')
    },
    async addAddress(cidr) {
      await runner.run('ip', ['-n', name, 'addr', 'add', cidr, 'dev', host.iface], {timeout: STEP_MS})
    },
    addHost: async () => {
      throw new Error('internal: hosts join the lab\'s own network, not a server\'s')
    },
    pids: () => netnsPids(runner, name),
    async destroy() {
      if (state.destroyed) return []
      state.destroyed = true
      const {problems, step} = cleanupSteps()
      await step(`kill leftover processes of ${name}`, async () => killAll(await netnsPids(runner, name)))
      await releaseMounts(runner, opts.runDir, state, step)
      return problems
    },
  }
  try {
    await privateMounts(runner, opts.runDir, state)
  } catch (error) {
    await view.destroy()
    throw error
  }
  return view
}

/**
 * Namespaces of lab runs whose process is gone (killed with SIGKILL, a crashed CI job): end
 * their processes and delete them. Only names this code made, and only when the owner is dead.
 */
export async function reapStaleNamespaces(runner: Runner): Promise<string[]> {
  const r = await runner.run('ip', ['netns', 'list'], {reject: false, timeout: STEP_MS})
  const reaped: string[] = []
  for (const line of r.stdout.split('\n')) {
    // A run's own namespace, or one of its other hosts' (NAME-ROLE).
    const m = new RegExp(`^(${NETNS_PREFIX}(\\d+)-[0-9a-f]+(?:-[a-z]+)?)(?:\\s|$)`).exec(line.trim())
    if (!m) continue
    if (isAlive(Number(m[2]))) continue
    await killAll(await netnsPids(runner, m[1]))
    await runner.run('ip', ['netns', 'delete', m[1]], {reject: false, timeout: STEP_MS})
    reaped.push(m[1])
  }
  return reaped
}

/** Whether a named network namespace exists (ip netns add made /run/netns/NAME). */
export async function namespaceExists(name: string): Promise<boolean> {
  return fs.stat(`/run/netns/${name}`).then(() => true, () => false)
}

/**
 * A standalone network namespace holding one bridge with one address: where a throwaway
 * cluster's servers listen and what lab runs join (joinBridge). No uplink, no route out.
 * A failure half-way deletes what it made.
 */
export async function createBridgedNamespace(runner: Runner, opts: {name: string, bridge: string, cidr: string}): Promise<void> {
  const ip = (...args: string[]) => runner.run('ip', args, {timeout: STEP_MS})
  await ip('netns', 'add', opts.name)
  try {
    await ip('-n', opts.name, 'link', 'set', 'lo', 'up')
    await ip('-n', opts.name, 'link', 'add', opts.bridge, 'type', 'bridge')
    await ip('-n', opts.name, 'addr', 'add', opts.cidr, 'dev', opts.bridge)
    await ip('-n', opts.name, 'link', 'set', opts.bridge, 'up')
  } catch (error) {
    await runner.run('ip', ['netns', 'delete', opts.name], {reject: false, timeout: STEP_MS})
    throw error
  }
}

/** Ends every process left in a namespace (by PID) and deletes it; an absent namespace is fine. */
export async function deleteNamespace(runner: Runner, name: string): Promise<void> {
  if (!await namespaceExists(name)) return
  await killAll(await netnsPids(runner, name))
  await runner.run('ip', ['netns', 'delete', name], {timeout: STEP_MS})
}

/** The interface of a namespace that holds `address`, and whether it is a bridge. */
export async function interfaceWithAddress(runner: Runner, ns: string, address: string): Promise<{name: string, bridge: boolean} | undefined> {
  const r = await runner.run('ip', ['-n', ns, '-j', '-d', 'addr', 'show'], {timeout: STEP_MS})
  const links = JSON.parse(r.stdout || '[]') as {ifname: string, linkinfo?: {info_kind?: string}, addr_info?: {local?: string}[]}[]
  const link = links.find((l) => l.addr_info?.some((a) => a.local === address))
  return link ? {name: link.ifname, bridge: link.linkinfo?.info_kind === 'bridge'} : undefined
}

/** The ports of a bridge in a namespace. */
export async function bridgePorts(runner: Runner, ns: string, bridge: string): Promise<string[]> {
  const r = await runner.run('ip', ['-n', ns, '-j', 'link', 'show', 'master', bridge], {timeout: STEP_MS})
  return (JSON.parse(r.stdout || '[]') as {ifname: string}[]).map((l) => l.ifname)
}

/**
 * Joins two bridges of two namespaces with a veth pair, `a.port` on a's side and `b.port` on b's:
 * one layer-2 network. Deleting either namespace removes the pair.
 */
export async function joinBridges(runner: Runner, a: {ns: string, bridge: string, port: string}, b: {ns: string, bridge: string, port: string}): Promise<void> {
  const ip = (...args: string[]) => runner.run('ip', args, {timeout: STEP_MS})
  await ip('-n', a.ns, 'link', 'add', a.port, 'type', 'veth', 'peer', 'name', b.port, 'netns', b.ns)
  try {
    await ip('-n', a.ns, 'link', 'set', a.port, 'master', a.bridge, 'up')
    await ip('-n', b.ns, 'link', 'set', b.port, 'master', b.bridge, 'up')
  } catch (error) {
    await removeLink(runner, a.ns, a.port)
    throw error
  }
}

/** Deletes an interface (a veth: its peer goes with it); absent is fine. */
export async function removeLink(runner: Runner, ns: string, name: string): Promise<void> {
  await runner.run('ip', ['-n', ns, 'link', 'delete', name], {reject: false, timeout: STEP_MS})
}
