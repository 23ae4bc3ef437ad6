import {DHCP_SERVERS} from '../backends/registry.js'
import {KEA_PATHS} from '../backends/dhcp/kea.js'
import {bootNodes} from '../boot/nodes.js'
import {forServer, noFailoverNotice} from '../config/servers.js'
import {loadSite} from '../config/site-file.js'
import {PreconditionError, PxerootError, UserError} from '../errors.js'
import {assertValidInventory, loadInventory, type Inventory} from '../inventory/inventory.js'
import {type BootNode} from '../boot/model.js'
import {runFailover, type FailoverResult, type PairServer} from '../lab/pair.js'
import {labMac, pickAccel} from '../lab/qemu.js'
import {type LabBootOptions, type LabVm} from '../lab/run.js'
import {requireLabTools} from '../lab/tools.js'
import {parseKeaConfig} from '../render/dhcp/kea.js'
import {peerUrl} from '../render/dhcp/kea-ha.js'
import {probeServers} from '../servers/probe.js'
import {siteVersion} from '../servers/record.js'
import {rootsByServer} from '../servers/roots.js'
import {type Context} from '../system/context.js'
import {isDirectory, readIfExists} from '../system/files.js'
import {reapStaleNamespaces} from '../system/netns.js'
import {makeRoot, type Root} from '../system/paths.js'
import {chainOf, labServers, linkCluster, rbdOf} from './lab-boot.js'
import {takeOver} from './servers-takeover.js'
import {gatewayRootInLab} from '../lab/root-binds.js'

export interface LabFailoverOptions extends Pick<LabBootOptions, 'timeout' | 'keepLogs' | 'accel' | 'memoryMiB' | 'cephNetns'> {
  /** The nodes booted while both servers serve, then the ones booted from the standby alone. */
  before: string[]
  after: string[]
  /** Where `apply --server NAME` wrote each server's files (their machines' roots); default --root. */
  serverRoots?: Readonly<Record<string, string>>
  /** The standby also takes over the roots the primary held (servers takeover, with its address). */
  takeover?: boolean
}

/** The Kea HA name a root's generated configuration answers to, or why there is none. */
async function keaServerName(root: Root): Promise<string | undefined> {
  const text = await readIfExists(root.resolve(KEA_PATHS.config))
  if (!text) return undefined
  const hooks = parseKeaConfig(text.toString('utf8')).Dhcp4['hooks-libraries'] as {parameters?: {'high-availability'?: {'this-server-name'?: string}[]}}[] | undefined
  return hooks?.flatMap((h) => h.parameters?.['high-availability'] ?? [])[0]?.['this-server-name']
}

/**
 * `lab failover FIRST SECOND`: the site's first two servers in one lab, each on the files its own
 * `apply --server` wrote; FIRST boots from the pair, the primary's daemons are killed, SECOND
 * boots from the standby (lab/pair.ts). Exit 0 only when both booted, the standby took over and
 * FIRST ran on.
 */
export async function labFailover(ctx: Context, options: LabFailoverOptions): Promise<FailoverResult> {
  if (process.getuid?.() !== 0) throw new PreconditionError('pxeroot lab failover needs root (network namespaces, tap devices, mounts)', 'run it with sudo')
  const names = [...options.before, ...options.after]
  if (options.before.length === 0 || options.after.length === 0) throw new UserError('name the nodes booted while both servers serve, and with --after those booted from the standby alone')
  if (new Set(names).size !== names.length) throw new UserError(`each node boots once: ${names.filter((n, i) => names.indexOf(n) !== i).join(', ')} is named twice`)
  const site = await loadSite(ctx.root)
  if (site.servers.length < 2) throw new UserError(`lab failover needs a site with two servers (servers: in ${'/etc/pxeroot/pxeroot.yaml'}); this one has ${site.servers.length === 0 ? 'one (server:)' : 'one'}`)
  if (site.backends.dhcp !== 'kea') throw new UserError(`lab failover needs backends.dhcp: kea: ${noFailoverNotice(site) ?? ''}`.trim(), 'set backends.dhcp: kea and run pxeroot apply --server NAME on each server')
  for (const name of Object.keys(options.serverRoots ?? {})) if (!site.servers.some((s) => s.name === name)) throw new UserError(`--server-root ${name}: no such server; the site's servers are ${site.servers.map((s) => s.name).join(', ')}`)
  const inventory = await loadInventory(ctx.root)
  assertValidInventory(site, inventory)
  const pair = site.servers.slice(0, 2)
  const roots = pair.map((s) => makeRoot(options.serverRoots?.[s.name] ?? ctx.root.prefix))
  const views = pair.map((s) => forServer(site, s.name))
  for (const [i, s] of pair.entries()) {
    const found = await keaServerName(roots[i])
    if (found !== s.name) {
      throw new PreconditionError(`${roots[i].resolve(KEA_PATHS.config)} is ${found ? `${found}'s Kea configuration` : 'no Kea configuration with the HA hook'}, not ${s.name}'s`,
        `run "pxeroot apply --server ${s.name} --root DIR" and give --server-root ${s.name}=DIR`)
    }
  }
  const nodes = await Promise.all(views.map((view, i) => bootNodes({...ctx, root: roots[i]}, view, inventory)))
  const taken = new Set(nodes[0].flatMap((n) => (n.mac ? [n.mac] : [])))
  const answering = new Map([...options.before.map((n) => [n, pair[0].address] as const), ...options.after.map((n) => [n, pair[1].address] as const)])
  const all = names.map((name): LabVm => {
    const node = nodes[0].find((n) => n.name === name)
    if (!node) throw new UserError(`node "${name}" is not in the inventory; known nodes: ${nodes[0].map((n) => n.name).join(', ') || 'none'}`)
    const mac = node.mac ?? labMac(node.ip, taken)
    taken.add(mac)
    return {node, boundBy: node.mac ? 'mac' : 'ip', target: {name, ip: node.ip, mac, rootPath: node.rootPath, ...chainOf('bios', site, node), kernel: node.kernel, initrd: node.initrd, ...rbdOf(node)}, server: answering.get(name)}
  })
  const split = (list: LabVm[]) => ({before: list.slice(0, options.before.length), after: list.slice(options.before.length)})
  const vms = split(all)
  // Each root where its server keeps it.
  for (const vm of all) {
    const i = pair.findIndex((s) => s.name === vm.node.server)
    if (!await isDirectory(roots[i].resolve(vm.node.rootPath))) throw new PreconditionError(`${vm.node.name} has no root at ${vm.node.rootPath} on ${vm.node.server}`, `run "pxeroot nodes clone" on ${vm.node.server}`)
  }
  /** A server's lab servers on its files as they are now: the VMs as it sees them (whose roots it exports). */
  const serversOf = async (i: number, seen: readonly BootNode[], held: Inventory) => {
    const own = all.map((vm) => ({...vm, node: seen.find((n) => n.name === vm.node.name)!}))
    const lab = await labServers({...ctx, root: roots[i]}, views[i], own, {inventory: held, nodes: seen}, {})
    delete lab.status
    return {own, lab}
  }
  const servers = await Promise.all(pair.map(async (s, i): Promise<PairServer> => {
    const {own, lab} = await serversOf(i, nodes[i], inventory)
    return {name: s.name, site: views[i], root: roots[i], vms: split(own), servers: lab, haUrl: peerUrl(site, s)}
  }))
  // Nodes with their root on RBD map it from the cluster on the lab's network: the primary's run boots every VM.
  await linkCluster(ctx, site, all, servers[0].servers, options.cephNetns)
  // The takeover as the standby's admin runs it (servers takeover, on its own files), then its servers on what that wrote.
  const takeover = options.takeover ? async (enterMounts: readonly string[]) => {
    const on = {...ctx, root: roots[1], server: pair[1].name}
    const done = await takeOver(on, {lost: pair[0].name, to: pair[1].name})
    const fenced = done.fence?.done
    if (fenced) ctx.log(`lab: ${pair[1].name} fenced ${pair[0].name}'s RBD clients: blocklisted ${fenced.blocklisted.join(', ') || 'none'}; locks broken on ${fenced.broken.map((b) => b.node).join(', ') || 'none'}`)
    // An rbd gateway's roots the takeover fenced and attached on the host: where the standby's NFS server runs too.
    for (const node of done.fence?.attached ?? []) ctx.log(await gatewayRootInLab(on, views[1], node, enterMounts))
    const held = await loadInventory(roots[1])
    return (await serversOf(1, await bootNodes(on, views[1], held), held)).lab
  } : undefined
  const tools = await requireLabTools({...servers[0].servers.programs, ...servers[1].servers.programs, curl: 'curl', ...(options.takeover ? {arping: 'iputils-arping'} : {}), [DHCP_SERVERS.kea.daemon]: DHCP_SERVERS.kea.packages.join(' ')})
  const accel = await pickAccel(options.accel ?? 'auto')
  await reapStaleNamespaces(ctx.runner)
  const version = siteVersion(site, inventory)
  const run = (with_: 'kvm' | 'tcg') => runFailover(ctx, tools, with_, {nodes: names, timeout: options.timeout, keepLogs: options.keepLogs, memoryMiB: options.memoryMiB}, [servers[0], servers[1]], vms,
    {probe: (runner) => probeServers(runner, site, version, rootsByServer(site, inventory)), ...(takeover ? {takeover} : {})})
  let result = await run(accel)
  // As lab boot: a /dev/kvm whose guests reset in the firmware says nothing about the servers; TCG does.
  if (accel === 'kvm' && (options.accel ?? 'auto') === 'auto' && result.before.some((n) => !n.passed && n.milestones.every((m) => m.seconds === undefined) && /the VM stopped/.test(n.reason ?? ''))) {
    ctx.log('lab: the VM reset under KVM before its first DHCP request; running again under TCG')
    result = await run('tcg')
  }
  if (!result.passed) throw new PxerootError(`the failover from ${result.primary} to ${result.standby} did not hold: see the report`, undefined, result)
  return result
}
