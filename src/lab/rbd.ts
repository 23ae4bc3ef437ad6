import {type RbdTarget} from '../boot/rbd-cmdline.js'
import {inSubnet, isIPv4, type Subnet} from '../config/address.js'
import {BusyError, PreconditionError} from '../errors.js'
import {RBD_FAILED} from '../images/rbdroot.js'
import {isAlive} from '../system/processes.js'
import {bridgePorts, interfaceWithAddress, joinBridges, namespaceExists, removeLink} from '../system/netns.js'
import {type Runner} from '../system/runner.js'

export {rbdTargetOf, type RbdTarget} from '../boot/rbd-cmdline.js'

/** The console line of a root the boot script mounted: `pxeroot-rbd: / is /dev/rbd0 (ext4, rw)`. */
export function rbdMountedIn(console: string): {device: string, fstype: string, mode: string} | undefined {
  const m = /pxeroot-rbd: \/ is (\/dev\/rbd\d+) \(([^,]+), (\w+)\)/.exec(console)
  return m ? {device: m[1], fstype: m[2], mode: m[3]} : undefined
}

/** Why the boot script stopped, in its own words (after "pxeroot-rbd: FAILED: "). */
export function rbdFailureIn(console: string): string | undefined {
  const at = console.indexOf(RBD_FAILED)
  return at < 0 ? undefined : console.slice(at + RBD_FAILED.length).split('\n')[0].trim()
}

/** Where the lab meets the cluster: the bridge of its namespace that holds the monitors' address. */
export interface ClusterLink {
  namespace: string
  bridge: string
}

/**
 * Before anything starts: the cluster's namespace exists, and every monitor the nodes name is an
 * address of the boot subnet held by a bridge there (the lab joins that bridge, so the VMs reach
 * the monitor, and the OSD behind it, on their own link). A refusal names the fix.
 */
export async function clusterLinkFor(runner: Runner, namespace: string, targets: readonly RbdTarget[], net: Subnet, subnet: string): Promise<ClusterLink> {
  if (!await namespaceExists(namespace)) {
    throw new PreconditionError(`the cluster's network namespace ${namespace} does not exist`, 'start the cluster ("pxeroot lab ceph start" prints its namespace) or name another with --ceph-netns')
  }
  let bridge: string | undefined
  for (const monitor of new Set(targets.flatMap((t) => t.monitors))) {
    const address = monitor.replace(/:\d+$/, '')
    if (!isIPv4(address) || !inSubnet(address, net)) {
      throw new PreconditionError(`the lab's VMs reach the cluster on their own link, but the monitor ${monitor} is outside the boot subnet ${subnet}`, `start the lab cluster on an address of ${subnet} (pxeroot lab ceph start --address)`)
    }
    const holder = await interfaceWithAddress(runner, namespace, address)
    if (!holder?.bridge) {
      throw new PreconditionError(`the monitor ${monitor} is not ${holder ? 'on a bridge' : 'an address'} of the cluster's namespace ${namespace}${holder ? ` (it is on ${holder.name})` : ''}`, 'name the namespace "pxeroot lab ceph start" printed, with --ceph-netns')
    }
    if (bridge && bridge !== holder.name) throw new PreconditionError(`the monitors are on two bridges of ${namespace} (${bridge}, ${holder.name}); the lab joins one`)
    bridge = holder.name
  }
  if (!bridge) throw new PreconditionError('the nodes that boot from RBD name no monitor (pxeroot.rbd=MONS/POOL/NAMESPACE/IMAGE)', 'run "pxeroot apply" and boot again')
  return {namespace, bridge}
}

/** The name of a lab run's port on the cluster's bridge: its owner's PID, so a live run is known. */
const portOf = (pid: number) => `lab${pid}`

/**
 * Joins a lab run's bridge to the cluster's with a veth pair, one layer-2 network: the lab's
 * server, its VMs and the cluster's address. One lab run at a time (two would put two copies of
 * the boot network on one wire): a live run's port makes this one busy; a dead run's is removed.
 * Deleting the lab's namespace removes the pair.
 */
export async function joinCluster(runner: Runner, lab: {namespace: string, bridge: string}, cluster: ClusterLink, pid = process.pid): Promise<void> {
  for (const port of await bridgePorts(runner, cluster.namespace, cluster.bridge)) {
    const owner = /^lab(\d+)$/.exec(port)?.[1]
    if (!owner || Number(owner) === pid) continue
    if (isAlive(Number(owner))) throw new BusyError(`another lab run (pid ${owner}) is connected to the cluster in ${cluster.namespace}`, 'wait for it to finish, then boot again')
    await removeLink(runner, cluster.namespace, port)
  }
  await joinBridges(runner, {ns: lab.namespace, bridge: lab.bridge, port: 'to-ceph'}, {ns: cluster.namespace, bridge: cluster.bridge, port: portOf(pid)})
}
