import {createHash} from 'node:crypto'
import path from 'node:path'

/**
 * The throwaway single-host cluster of `pxeroot lab ceph`: where its files live under its state
 * directory, and its ceph.conf (pure). Everything of the cluster is under `dir`: configuration,
 * keys, the monitor's and OSD's data (bluestore on a sparse file), sockets, logs and PIDs.
 */
export interface CephLabLayout {
  dir: string
  conf: string
  /** What the cluster is (cluster.json): written before any server starts, so stop finds a half-made one. */
  record: string
  keys: string
  adminKeyring: string
  monKeyring: string
  monmap: string
  run: string
  log: string
  crash: string
  monData: string
  mgrData: string
  osdData(id: number): string
}

export function cephLabLayout(dir: string): CephLabLayout {
  const p = (...parts: string[]) => path.join(dir, ...parts)
  return {
    dir,
    conf: p('ceph.conf'),
    record: p('cluster.json'),
    keys: p('keys'),
    adminKeyring: p('keys', 'ceph.client.admin.keyring'),
    monKeyring: p('keys', 'mon.keyring'),
    monmap: p('keys', 'monmap'),
    run: p('run'),
    log: p('log'),
    crash: p('crash'),
    monData: p('mon', 'ceph-a'),
    mgrData: p('mgr', 'ceph-x'),
    osdData: (id) => p('osd', `ceph-${id}`),
  }
}

export const CEPH_LAB_NETNS_PREFIX = 'pxeroot-ceph-'
/** The bridge in the cluster's namespace that holds its address; lab runs join it. */
export const CEPH_LAB_BRIDGE = 'ceph0'
export const MON_V1_PORT = 6789
export const MON_V2_PORT = 3300
export const CEPH_LAB_POOL = 'rbd'

/** The namespace of the cluster kept in `dir` (the same directory always gives the same name). */
export function cephLabNamespace(dir: string): string {
  return `${CEPH_LAB_NETNS_PREFIX}${createHash('sha256').update(path.resolve(dir)).digest('hex').slice(0, 8)}`
}

/** What cluster.json records. */
export interface CephLabRecord {
  fsid: string
  namespace: string
  /** The address the servers listen on, with its prefix length (on the bridge). */
  address: string
  prefixLength: number
  bridge: string
  pool: string
  osdId: number
  osdGiB: number
  /** Minutes each server may run before its bound ends it. */
  lifetimeMinutes: number
  created: string
}

export interface CephConfSpec {
  fsid: string
  address: string
  layout: CephLabLayout
  osdGiB: number
}

/**
 * The settings that give a one-OSD cluster plain HEALTH_OK (notes/ceph.md): size-1 pools allowed
 * and not warned of, no host-level CRUSH failure domain, the monitor's disk-space warning at 10 %
 * (a shared disk), no insecure global_id reclaim. Every path is under the state directory; each
 * client gets its own admin socket (a second client would fail to bind a shared one).
 */
export function renderCephConf(spec: CephConfSpec): string {
  const {layout: l, address} = spec
  return [
    '# pxeroot lab ceph: a throwaway single-host cluster (1 mon, 1 mgr, 1 bluestore OSD on a sparse file).',
    '# Every Ceph command must run inside its network namespace with this file: outside, a Ceph',
    '# tool without a configuration asks the host\'s DNS for monitors.',
    '[global]',
    `fsid = ${spec.fsid}`,
    `mon_host = v2:${address}:${MON_V2_PORT},v1:${address}:${MON_V1_PORT}`,
    `public_addr = ${address}`,
    `cluster_addr = ${address}`,
    'ms_bind_ipv6 = false',
    'auth_cluster_required = cephx',
    'auth_service_required = cephx',
    'auth_client_required = cephx',
    `run_dir = ${l.run}`,
    `admin_socket = ${l.run}/$cluster-$name.asok`,
    `log_file = ${l.log}/$cluster-$name.log`,
    `crash_dir = ${l.crash}`,
    'osd_pool_default_size = 1',
    'osd_pool_default_min_size = 1',
    'osd_pool_default_pg_num = 16',
    'osd_pool_default_pgp_num = 16',
    'osd_pool_default_pg_autoscale_mode = off',
    'mon_allow_pool_size_one = true',
    'mon_allow_pool_delete = true',
    'mon_warn_on_pool_no_redundancy = false',
    'auth_allow_insecure_global_id_reclaim = false',
    // A throwaway cluster on a shared disk: warn only when the monitor is about to stop (crit: 5 %),
    // not at every dip of a busy machine's free space (the default, 30 %, and 10 % both hit here).
    'mon_data_avail_warn = 6',
    'osd_crush_chooseleaf_type = 0',
    '',
    '[mon]',
    `mon_data = ${path.dirname(l.monData)}/$cluster-$id`,
    '',
    '[mgr]',
    `mgr_data = ${path.dirname(l.mgrData)}/$cluster-$id`,
    '',
    '[osd]',
    `osd_data = ${path.dirname(l.osdData(0))}/$cluster-$id`,
    'osd_objectstore = bluestore',
    'bluestore_block_create = true',
    `bluestore_block_size = ${spec.osdGiB * 2 ** 30}`,
    'osd_memory_target = 1073741824',
    'osd_op_num_shards = 2',
    'osd_op_num_threads_per_shard = 1',
    '',
    '[client]',
    `keyring = ${l.adminKeyring}`,
    `admin_socket = ${l.run}/$cluster-$name.$pid.asok`,
    '',
  ].join('\n')
}

/** A UNIX socket path holds at most 107 bytes; the longest the cluster makes is a client's admin socket. */
export function longestSocket(layout: CephLabLayout): string {
  return path.join(layout.run, 'ceph-client.admin.4194304.asok')
}
