import {createHash} from 'node:crypto'

import {type RevisionRef} from '../names.js'

/**
 * Where the rbd backend keeps things in its pool (pure):
 *
 *   POOL/revisions/NAME-N@N   revision N of image NAME: an ext4 image, its protected snapshot N
 *   POOL/NODE/root            the node's root, a clone of a revision snapshot, in the node's own
 *                             RBD namespace (its cephx key client.pxeroot.POOL.NODE reaches only
 *                             that namespace)
 *   POOL/NODE/root.previous   its root before the last rebase
 *   POOL/NODE/.root.pxeroot-* work in progress (a clone being filled, a root being removed)
 *
 * Root entry names (names.ts: NODE, NODE.previous, .NODE.pxeroot-*) map one to one onto these.
 */
export const REVISIONS_NAMESPACE = 'revisions'
export const ROOT_IMAGE = 'root'

export function revisionImage(ref: RevisionRef): string {
  return `${ref.image}-${ref.revision}`
}

export function revisionSnap(ref: RevisionRef): string {
  return String(ref.revision)
}

/** The revision numbers of `image` among the revisions namespace's image names. */
export function revisionNumbers(image: string, names: readonly string[]): number[] {
  const prefix = `${image}-`
  return names.filter((n) => n.startsWith(prefix) && /^[1-9][0-9]*$/.test(n.slice(prefix.length))).map((n) => Number(n.slice(prefix.length)))
}

export interface RbdRootSpec {
  namespace: string
  image: string
}

/** The image of a root entry, in its node's namespace. */
export function rootSpec(name: string): RbdRootSpec {
  const m = /^(\.?)([a-z0-9-]+)(.*)$/.exec(name)
  if (!m) throw new Error(`internal: ${name} is not a root entry`)
  return {namespace: m[2], image: `${m[1]}${ROOT_IMAGE}${m[3]}`}
}

/** The root entry an image of a node's namespace stands for (undefined for anything else). */
export function rootEntry(namespace: string, image: string): string | undefined {
  const m = /^(\.?)root(\.previous)?(\.pxeroot-.*)?$/.exec(image)
  if (!m || (m[1] === '.') !== (m[3] !== undefined)) return undefined
  return `${m[1]}${namespace}${m[2] ?? ''}${m[3] ?? ''}`
}

/**
 * A node's cephx user (without "client."). Users are cluster-wide, pools are not: named by pool
 * as well, two sites on one cluster (a test and a production pool) can both have a node01, and
 * neither site's `nodes rm` removes the other's key.
 */
export function nodeUser(pool: string, node: string): string {
  return `pxeroot.${pool}.${node}`
}

/**
 * The ext4 UUID of a node's root: its own, derived from the pool and the node (a UUID v5-shaped
 * hash), never the revision's. Every clone of a revision starts with the revision's UUID, and the
 * UUID is the filesystem id an NFS server gives it (statfs f_fsid): NFS-Ganesha exports only one
 * of several filesystems with one fsid, so a gateway serving two nodes' clones served one. Derived,
 * not random, so that whatever makes or rebases a node's root gives it the same one, and NFS file
 * handles (which carry it) stay valid on any server that exports the root.
 */
export function rootUuid(pool: string, node: string): string {
  const h = createHash('sha256').update(`pxeroot rbd root ${pool}/${node}`).digest()
  h[6] = (h[6] & 0x0F) | 0x50
  h[8] = (h[8] & 0x3F) | 0x80
  const hex = h.subarray(0, 16).toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`
}

/** The caps of a node's own key: its namespace, and the revisions read-only (its clone's parent).
 * mgr too, though its kernel never asks the manager: a user pxeroot makes is only ever made with
 * exactly these (serverCaps), and the monitor checks only the caps a grant names, so every kind a
 * key could be given must be named in them. */
export function nodeCaps(pool: string, node: string): {mon: string, osd: string, mgr: string} {
  return {
    mon: 'profile rbd',
    osd: `profile rbd pool=${pool} namespace=${node}, profile rbd-read-only pool=${pool} namespace=${REVISIONS_NAMESPACE}`,
    mgr: `profile rbd pool=${pool} namespace=${node}`,
  }
}

/** A node's namespace as the monitor's regex of a grant matches it: a hostname label (config/site.ts HOSTNAME). */
const NODE_PATTERN = '[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?'

/**
 * The caps a cephx user other than admin needs to run an rbd site (storage.rbd.id), once the pool
 * is prepared: read and write in the pool (revisions, roots, pxeroot's own state and locks),
 * blocklisting a dead client (profile rbd's own grant, what a takeover's fence does), and making,
 * reading, changing and removing the site's node users, `client.pxeroot.POOL.*`, with exactly the
 * caps nodeCaps gives them. Each auth command is allowed only for that name prefix and those caps
 * (the monitor matches the `caps` of a command as caps_mon, caps_osd, caps_mgr): whoever has this
 * key cannot read another user's key, list them, or make a user with more than a node's caps.
 */
export function serverCaps(pool: string): {mon: string, osd: string, mgr: string} {
  const users = `client.${nodeUser(pool, '')}`
  // '@' is no part of a pool name (config/site.ts cephName): it marks where the node goes.
  const node = nodeCaps(pool, '@')
  const regex = (caps: string) => `"^${escapeRegex(caps).replace('@', NODE_PATTERN)}$"`
  const capsGiven = `caps_mon="${node.mon}" caps_osd regex ${regex(node.osd)} caps_mgr regex ${regex(node.mgr)}`
  const auth = (command: string, constraint: string) => `allow command "auth ${command}" with entity prefix "${users}"${constraint}`
  return {
    mon: ['profile rbd', auth('get-or-create', ` ${capsGiven}`), auth('caps', ` ${capsGiven}`), auth('get', ''), auth('get-key', ''), auth('del', '')].join(', '),
    osd: `profile rbd pool=${pool}`,
    mgr: `profile rbd pool=${pool}`,
  }
}

/** A literal for a POSIX extended regex (the monitor's std::regex). */
function escapeRegex(text: string): string {
  return text.replaceAll(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/** What this server needs for an rbd site: the Ceph clients, librbd for python (pxeroot's
 * session), qemu-storage-daemon with its rbd driver, qemu-img (read-only views), mke2fs. */
export const RBD_PACKAGES = ['ceph-common', 'python3-rbd', 'qemu-system-common', 'qemu-block-extra', 'qemu-utils', 'e2fsprogs'] as const
