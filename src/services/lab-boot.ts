import {ISC_PATHS} from '../backends/dhcp/isc.js'
import {PXELINUX_BOOT_FILE, pxelinux} from '../backends/loaders/pxelinux.js'
import {bootNodes} from '../boot/nodes.js'
import {loadSite} from '../config/site-file.js'
import {PartialFailureError, PreconditionError, PxerootError, UserError} from '../errors.js'
import {assertValidInventory, loadInventory} from '../inventory/inventory.js'
import {acceleratorFailed} from '../lab/decide.js'
import {dhcpdIncludes, labDhcpdConfig, type LabHost} from '../lab/dhcpd.js'
import {labMac, pickAccel} from '../lab/qemu.js'
import {runLab, type LabBootOptions, type LabBootResult, type LabVm} from '../lab/run.js'
import {requireLabTools} from '../lab/tools.js'
import {type Context} from '../system/context.js'
import {isDirectory, readIfExists} from '../system/files.js'
import {reapStaleNamespaces} from '../system/netns.js'

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
  const site = await loadSite(ctx.root)
  const inventory = await loadInventory(ctx.root)
  assertValidInventory(site, inventory)
  const all = await bootNodes(ctx.root, site, inventory)
  const nodes = [...new Set(options.nodes)].map((name) => {
    const node = all.find((n) => n.name === name)
    if (!node) throw new UserError(`node "${name}" is not in the inventory; known nodes: ${all.map((n) => n.name).join(', ') || 'none'}`)
    return node
  })
  for (const node of nodes) {
    if (!await isDirectory(ctx.root.resolve(node.rootPath))) throw new PreconditionError(`${node.name} has no root at ${node.rootPath}`, `run "pxeroot nodes clone" first`)
  }
  const main = await readIfExists(ctx.root.resolve(ISC_PATHS.main))
  if (!main) throw new PreconditionError(`no dhcpd configuration at ${ISC_PATHS.main}`, 'run "pxeroot apply" first')
  const included = new Map<string, string>()
  for (const file of dhcpdIncludes(main.toString('utf8'))) {
    const text = await readIfExists(ctx.root.resolve(file))
    if (text) included.set(file, text.toString('utf8'))
  }
  const tools = await requireLabTools()
  const accel = await pickAccel(options.accel ?? 'auto')

  const taken = new Set(all.flatMap((n) => (n.mac ? [n.mac] : [])))
  const vms: LabVm[] = nodes.map((node) => {
    const mac = node.mac ?? labMac(node.ip, taken)
    taken.add(mac)
    return {
      node,
      boundBy: node.mac ? 'mac' : 'ip',
      target: {name: node.name, ip: node.ip, mac, rootPath: node.rootPath, loader: PXELINUX_BOOT_FILE, config: pxelinux.nodeFile(node), kernel: node.kernel, initrd: node.initrd},
    }
  })
  const hosts: LabHost[] = vms.filter((vm) => vm.boundBy === 'ip').map((vm) => ({name: vm.node.name, mac: vm.target.mac, ip: vm.node.ip}))
  const dhcpdConf = labDhcpdConfig(main.toString('utf8'), included, hosts)

  await reapStaleNamespaces(ctx.runner)
  let run = await runLab(ctx, site, tools, accel, options, vms, dhcpdConf)
  // Some hosts offer a /dev/kvm whose guests reset in the firmware (nested virtualisation): every
  // VM stops before it even asks for an address. That says nothing about the nodes; TCG does.
  if (accel === 'kvm' && (options.accel ?? 'auto') === 'auto' && acceleratorFailed(run.progress)) {
    ctx.log('lab: the VMs reset under KVM before their first DHCP request; running again under TCG')
    run = await runLab(ctx, site, tools, 'tcg', options, vms, dhcpdConf)
  }
  const {result} = run
  if (!result.passed) {
    const failed = result.nodes.filter((n) => !n.passed)
    const message = `${failed.length} of ${result.nodes.length} node(s) did not boot: ${failed.map((n) => `${n.name} (missed ${n.missed})`).join(', ')}`
    throw failed.length < result.nodes.length ? new PartialFailureError(message, result) : new PxerootError(message, undefined, result)
  }
  return result
}
