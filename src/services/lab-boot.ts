import {grub, GRUB_SECOND_STAGE} from '../backends/loaders/grub.js'
import {ipxe} from '../backends/loaders/ipxe.js'
import {pxelinux} from '../backends/loaders/pxelinux.js'
import {DHCP_SERVERS, NFS_SERVERS} from '../backends/registry.js'
import {type AdminTexts, type ServiceBackend} from '../backends/types.js'
import {lighttpd} from '../backends/web/lighttpd.js'
import {GRUB_CFG} from '../render/loaders/grub.js'
import {type BootNode} from '../boot/model.js'
import {bootNodes} from '../boot/nodes.js'
import {type Firmware, type SiteModel} from '../config/site.js'
import {loadSite} from '../config/site-file.js'
import {PartialFailureError, PreconditionError, PxerootError, UserError} from '../errors.js'
import {assertValidInventory, type Inventory, loadInventory} from '../inventory/inventory.js'
import {acceleratorFailed} from '../lab/decide.js'
import {modelGaneshaLab} from '../lab/ganesha.js'
import {type BootTarget} from '../lab/milestones.js'
import {labMac, noteKvmGuestsReset, pickAccel} from '../lab/qemu.js'
import {standInAddress, standInDhcpd} from '../lab/router.js'
import {clusterLinkFor, rbdTargetOf} from '../lab/rbd.js'
import {runLab, type LabBootOptions, type LabBootResult, type LabServers, type LabVm} from '../lab/run.js'
import {requireLabTools, requireOvmf} from '../lab/tools.js'
import {readBootReport} from '../status/booted.js'
import {liveStatus} from '../status/live.js'
import {withStorage} from '../storage/registry.js'
import {type Context} from '../system/context.js'
import {readIfExists} from '../system/files.js'
import {reapStaleNamespaces} from '../system/netns.js'
import {type Root} from '../system/paths.js'
import {removeTree} from '../system/trees.js'
import {IPXE_BOOT_SCRIPT} from '../render/loaders/ipxe.js'

/** The files a backend renders, as they are on disk now. */
export async function generatedFiles(root: Root, backend: ServiceBackend): Promise<AdminTexts> {
  const texts = new Map<string, string | undefined>()
  for (const p of backend.paths) texts.set(p, (await readIfExists(root.resolve(p)))?.toString('utf8'))
  return texts
}

/**
 * The servers of the run: each backend's lab hook on the files apply generated. The kernel NFS
 * server cannot run in a lab namespace (no kernel nfsd there), so its nodes are exported by
 * NFS-Ganesha from the boot model instead, and the log says so. In proxy mode the lab also
 * plays the network's own DHCP server (lab/router.ts); with transport http it runs the web server.
 */
export async function labServers(ctx: Context, site: SiteModel, vms: readonly LabVm[], cluster: {inventory: Inventory, nodes: readonly BootNode[]}, options: Pick<LabBootOptions, 'networkNextServer'>): Promise<LabServers> {
  const dhcp = DHCP_SERVERS[site.backends.dhcp]
  const nfs = NFS_SERVERS[site.backends.nfs]
  if (!dhcp.lab) throw new PreconditionError(`pxeroot lab cannot run ${dhcp.label} yet`, 'boot the nodes with backends.dhcp: isc')
  const dhcpFiles = await generatedFiles(ctx.root, dhcp)
  // Nodes bound by address lease their address from the dynamic range, as in the field; the
  // seeded lease state only makes the server offer each VM its node's address first.
  const offers = vms.filter((vm) => vm.boundBy === 'ip').map((vm) => ({mac: vm.target.mac, ip: vm.node.ip}))
  const servers: LabServers = {
    dhcp: (env) => dhcp.lab!({...env, generated: dhcpFiles, offers, now: Math.floor(Date.now() / 1000)}),
    // A node that boots from RBD needs no export.
    nfs: (env) => modelGaneshaLab(env, vms.filter(({node, target}) => node.exportedHere && !target.rbd).map(({node}) => ({exportId: node.exportId, rootPath: node.rootPath, diskPath: env.root.resolve(node.rootPath), client: node.ip}))),
    programs: {},
    // As `pxeroot status` reads a server: in proxy mode the network's own server holds the leases.
    status: (sources) => withStorage(ctx, site, (storage) => liveStatus(ctx.root, site, cluster.inventory, cluster.nodes, site.dhcp.mode === 'proxy' ? undefined : dhcp.leases, {...sources, bootReport: (node) => readBootReport(storage, node)})),
  }
  if (site.dhcp.mode === 'proxy') {
    const address = standInAddress(site)
    const reservations = vms.map((vm) => ({name: vm.node.name, mac: vm.target.mac, ip: vm.node.ip}))
    const nextServer = options.networkNextServer ? site.server : undefined
    servers.router = {address, daemon: (env) => standInDhcpd(env, site, address, reservations, nextServer)}
  }
  if (site.boot.transport === 'http') {
    const webFiles = await generatedFiles(ctx.root, lighttpd)
    servers.web = (env) => lighttpd.lab!({...env, generated: webFiles})
  }
  if (nfs.lab) {
    const nfsFiles = await generatedFiles(ctx.root, nfs)
    servers.nfs = (env) => nfs.lab!({...env, generated: nfsFiles})
  } else {
    ctx.log(`lab: ${nfs.label} cannot run in a lab namespace: the nodes' roots are exported by NFS-Ganesha from the boot model instead of from ${nfs.paths.join(', ')}`)
  }
  // The hooks are pure: a dry call refuses missing generated files before anything is started,
  // and names the programs the run needs.
  const dry = {runDir: '/nonexistent', iface: 'br0', root: ctx.root, server: site.server}
  servers.programs[servers.dhcp(dry).program] = dhcp.packages.join(' ')
  servers.nfs?.(dry)
  if (servers.router) servers.programs[servers.router.daemon(dry).program] = 'isc-dhcp-server'
  if (servers.web) servers.programs[servers.web({...dry, tftpRoot: '/nonexistent'}).program] = lighttpd.packages.join(' ')
  return servers
}

/** A node whose kernel command line says boot=rbd maps its root itself: what it maps, from which monitors. */
export function rbdOf(node: BootNode): Pick<BootTarget, 'rbd'> {
  const rbd = rbdTargetOf(node.cmdline)
  return rbd ? {rbd} : {}
}

/**
 * The VMs that boot from RBD reach their cluster on the lab's own link: its namespace (--ceph-netns,
 * or the site's storage.rbd.netns) checked and recorded in servers.cluster. Nothing when none does.
 */
export async function linkCluster(ctx: Context, site: SiteModel, vms: readonly LabVm[], servers: LabServers, cephNetns?: string): Promise<void> {
  const rbd = vms.flatMap((vm) => (vm.target.rbd ? [vm.target.rbd] : []))
  if (rbd.length === 0) return
  const netns = cephNetns ?? siteCephNetns(site)
  if (!netns) {
    throw new PreconditionError(`${vms.filter((vm) => vm.target.rbd).map((vm) => vm.node.name).join(', ')} boot${rbd.length === 1 ? 's' : ''} from RBD: the lab joins the cluster's network to reach it, and needs its network namespace`, 'name it with --ceph-netns ("pxeroot lab ceph start" prints it)')
  }
  servers.cluster = await clusterLinkFor(ctx.runner, netns, rbd, site.net, site.subnet)
}

/** The cluster's network namespace as the site names it (storage.rbd.netns, with the rbd backend), if it does. */
function siteCephNetns(site: SiteModel): string | undefined {
  return site.storage.rbd?.netns
}

/**
 * What a VM of this firmware fetches, by the loader's own names, and how: for UEFI shim (the boot
 * file DHCP names), the GRUB beside it, grub.cfg and the node's GRUB file over TFTP; for BIOS
 * pxelinux over TFTP, or with boot.transport http iPXE's scripts over HTTP (qemu's NIC ROM is iPXE).
 */
export function chainOf(firmware: Firmware, site: SiteModel, node: BootNode): Pick<BootTarget, 'loader' | 'uefi' | 'config' | 'transport'> {
  if (firmware === 'uefi') return {loader: grub.bootFile, uefi: {secondStage: GRUB_SECOND_STAGE, menu: GRUB_CFG}, config: grub.nodeFile(node), transport: 'tftp'}
  if (site.boot.transport === 'http') return {loader: IPXE_BOOT_SCRIPT, config: ipxe.nodeFile(node), transport: 'http'}
  return {loader: pxelinux.bootFile, config: pxelinux.nodeFile(node), transport: 'tftp'}
}

/** The named nodes as the lab's VMs (a node bound by address gets a lab MAC), with the inventory and every node's boot model. */
export async function labVms(ctx: Context, site: SiteModel, names: readonly string[], firmware: Firmware): Promise<{inventory: Inventory, all: BootNode[], vms: LabVm[]}> {
  const inventory = await loadInventory(ctx.root)
  assertValidInventory(site, inventory)
  const all = await bootNodes(ctx, site, inventory)
  const nodes = [...new Set(names)].map((name) => {
    const node = all.find((n) => n.name === name)
    if (!node) throw new UserError(`node "${name}" is not in the inventory; known nodes: ${all.map((n) => n.name).join(', ') || 'none'}`)
    return node
  })
  const roots = await withStorage(ctx, site, (storage) => storage.listRoots())
  for (const node of nodes) {
    if (!roots.has(node.name)) throw new PreconditionError(`${node.name} has no root at ${node.rootPath}`, `run "pxeroot nodes clone" first`)
  }
  const taken = new Set(all.flatMap((n) => (n.mac ? [n.mac] : [])))
  const vms: LabVm[] = nodes.map((node) => {
    const mac = node.mac ?? labMac(node.ip, taken)
    taken.add(mac)
    return {
      node,
      boundBy: node.mac ? 'mac' : 'ip',
      target: {name: node.name, ip: node.ip, mac, rootPath: node.rootPath, ...chainOf(firmware, site, node), kernel: node.kernel, initrd: node.initrd, ...rbdOf(node)},
    }
  })
  return {inventory, all, vms}
}

/**
 * `lab boot NODE...`: proves that nodes boot. PXE-boots each in a VM inside a sealed network
 * namespace, against the DHCP, TFTP and NFS configuration pxeroot generated, and follows each
 * boot through its milestones (lab/). Exits 0 when all pass, 4 when some do, 1 when none do;
 * --json keeps every node's milestones either way.
 */
export async function labBoot(ctx: Context, options: LabBootOptions): Promise<LabBootResult> {
  if (process.getuid?.() !== 0) throw new PreconditionError('pxeroot lab boot needs root (network namespaces, tap devices, mounts)', 'run it with sudo')
  if (options.nodes.length === 0) throw new UserError('name the nodes to boot, e.g. "pxeroot lab boot node01 node02"')
  if (!Number.isFinite(options.timeout) || options.timeout < 10) throw new UserError('--timeout: must be at least 10 seconds')
  const firmware = options.firmware ?? 'bios'
  const site = await loadSite(ctx.root)
  if (!site.boot.firmware.includes(firmware)) {
    throw new UserError(`--firmware ${firmware}: the site serves no ${firmware === 'uefi' ? 'UEFI' : 'BIOS'} machines (boot.firmware is [${site.boot.firmware.join(', ')}])`,
      `add ${firmware} to boot.firmware in the site file and run "pxeroot apply", or boot with --firmware ${site.boot.firmware[0]}`)
  }
  if (options.networkNextServer && site.dhcp.mode !== 'proxy') {
    throw new UserError('--network-next-server: only in proxy mode, where the lab plays the network\'s own DHCP server (dhcp.mode is full: pxeroot\'s server sends next-server itself)', 'leave it out, or set dhcp.mode: proxy')
  }
  const {inventory, all, vms} = await labVms(ctx, site, options.nodes, firmware)
  const servers = await labServers(ctx, site, vms, {inventory, nodes: all}, options)
  await linkCluster(ctx, site, vms, servers, options.cephNetns)
  const tools = await requireLabTools(servers.programs)
  if (firmware === 'uefi') await requireOvmf()
  const accel = await pickAccel(options.accel ?? 'auto')

  await reapStaleNamespaces(ctx.runner)
  let run = await runLab(ctx, site, tools, accel, options, vms, servers)
  // Some hosts offer a /dev/kvm whose guests reset in the firmware (nested virtualisation): every
  // VM stops before it even asks for an address. That says nothing about the nodes; TCG does.
  if (accel === 'kvm' && (options.accel ?? 'auto') === 'auto' && acceleratorFailed(run.progress)) {
    ctx.log('lab: the VMs reset under KVM before their first DHCP request; running again under TCG')
    // Nor do the logs a failed run keeps: they would be left behind in the temp dir.
    if (!options.keepLogs && run.result.logs) await removeTree(ctx.runner, run.result.logs, {mounts: 'unmount'})
    run = await runLab(ctx, site, tools, 'tcg', options, vms, servers)
  }

  // This process's next runs go to TCG at once.
  if (run.result.accel !== accel) noteKvmGuestsReset()
  const {result} = run
  if (!result.passed) {
    const failed = result.nodes.filter((n) => !n.passed)
    const message = `${failed.length} of ${result.nodes.length} node(s) did not boot: ${failed.map((n) => `${n.name} (missed ${n.missed})`).join(', ')}`
    throw failed.length < result.nodes.length ? new PartialFailureError(message, result) : new PxerootError(message, undefined, result)
  }
  return result
}
