import path from 'node:path'

import {dropInPath, mountUnitName, mountUnitPath, renderMountUnit, renderWantsDropIn, SYSTEMD_UNIT_DIR} from './mount-unit.js'
import {header} from '../header.js'

/**
 * The units that keep an rbd gateway's roots attached across a reboot of the server (storage.rbd
 * mode: gateway): per node, a qemu-storage-daemon serving its clone as a FUSE file (one instance
 * of a template service, so one daemon's end touches one node), the ext4 in it mounted at the
 * node's root path through a loop device, and a drop-in making the NFS server start after those
 * mounts. Pure.
 */
export const GATEWAY_TEMPLATE = 'pxeroot-rbd-root@.service'

export function gatewayService(node: string): string {
  return `pxeroot-rbd-root@${node}.service`
}

export interface GatewaySpec {
  /** The daemon's argv for a node, with `%i` standing for the node's name (qemu-storage-daemon first). */
  argv: readonly string[]
  /** Its FUSE file, with `%i` for the node's name. */
  file: string
  env: Readonly<Record<string, string>>
  netns?: string
  /** The node roots attached here: where each is mounted. */
  roots: readonly {node: string, where: string}[]
  /** The NFS server's unit (nfs-ganesha.service...). */
  nfsUnit: string
}

export function gatewayUnits(spec: GatewaySpec): {path: string, content: string, mode: number}[] {
  if (spec.roots.length === 0) return []
  const template = [
    header('#'),
    '# A node\'s root from Ceph RBD, served by qemu-storage-daemon as a file (FUSE) for its loop mount.',
    '[Unit]',
    'Description=pxeroot: the root of node %i from Ceph RBD',
    'Wants=network-online.target',
    'After=network-online.target',
    '',
    '[Service]',
    ...Object.entries(spec.env).map(([k, v]) => `Environment="${k}=${v}"`),
    ...(spec.netns ? [`NetworkNamespacePath=/run/netns/${spec.netns}`] : []),
    `ExecStartPre=/usr/bin/install -d -m 0700 ${path.posix.dirname(spec.file)}`,
    `ExecStartPre=/usr/bin/touch ${spec.file}`,
    `ExecStart=/usr/bin/${spec.argv.join(' ')}`,
    `ExecStopPost=/bin/rm -f ${spec.file}`,
    'Restart=on-failure',
  ].join('\n') + '\n'
  const mounts = spec.roots.map(({node, where}) => ({
    path: mountUnitPath(where),
    mode: 0o644,
    content: renderMountUnit({
      what: spec.file.replace('%i', node),
      where,
      type: 'ext4',
      options: 'loop',
      description: `pxeroot: the root of node ${node} from Ceph RBD`,
      why: 'An rbd gateway\'s node root: its RBD clone, served as a file by its daemon, mounted through a loop device for the NFS server.',
      before: [spec.nfsUnit],
      requires: [gatewayService(node)],
    }),
  }))
  const dropIn = renderWantsDropIn('The node roots this rbd gateway exports: mount them (and their daemons) first.', spec.roots.map(({where}) => mountUnitName(where)))
  return [
    {path: path.posix.join(SYSTEMD_UNIT_DIR, GATEWAY_TEMPLATE), content: template, mode: 0o644},
    ...mounts,
    {path: dropInPath(spec.nfsUnit, 'pxeroot-rbd-roots'), content: dropIn, mode: 0o644},
  ]
}
