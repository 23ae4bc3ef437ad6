/** A client of a `pxeroot lab ceph` cluster for tests and benches: its commands run inside its network namespace, as admin, bounded. */
import {execa} from 'execa'

import {type CephLabStartResult} from '../../src/lab/ceph.js'

export interface TestCluster extends CephLabStartResult {
  /** argv that runs a command inside the cluster's network namespace. */
  inNet(command: string, args: readonly string[]): [string, string[]]
  /** `ceph --conf ... ARGS` in the namespace, as admin; stdout. */
  ceph(args: readonly string[]): Promise<string>
  /** `rbd --conf ... ARGS` in the namespace, as admin; stdout. */
  rbd(args: readonly string[]): Promise<string>
}

export function clusterClient(started: CephLabStartResult): TestCluster {
  const inNet = (command: string, args: readonly string[]): [string, string[]] => ['nsenter', [`--net=/run/netns/${started.namespace}`, '--', command, ...args]]
  const tool = async (program: string, args: readonly string[]) => {
    const [cmd, argv] = inNet(program, ['--conf', started.conf, ...args])
    return (await execa(cmd, argv, {timeout: 120_000, env: {CEPH_CONF: started.conf}})).stdout
  }
  return {...started, inNet, ceph: (args) => tool('ceph', args), rbd: (args) => tool('rbd', args)}
}

