import path from 'node:path'

import {type SiteModel} from '../config/site.js'
import {byName, type Inventory, type InventoryNode} from '../inventory/inventory.js'
import {type StorageBackend} from '../storage/backend.js'
import {type Context} from '../system/context.js'
import {mapBounded, settled} from '../system/pool.js'
import {readInRoot, writeInRoot} from '../system/root-files.js'
import {STATE} from '../system/paths.js'
import {type HostKeyFiles, newHostKey} from './host-keys.js'
import {hostKeyFile, type HostKeyType} from './identity.js'

/** The cluster's known_hosts, published by the server (host path). */
export const KNOWN_HOSTS_FILE = '/etc/pxeroot/known_hosts'
/** Where each node root gets a copy, so nodes trust each other's keys. */
export const NODE_KNOWN_HOSTS = '/etc/ssh/ssh_known_hosts'
/** Each node's public host keys as its identity was last written, for storage whose roots the
 * server cannot read while their nodes run (one file per node, so parallel clones never share one). */
export const HOST_KEYS_DIR = path.posix.join(STATE.stateDir, 'host-keys')

const KEY_TYPES: HostKeyType[] = ['ed25519', 'ecdsa', 'rsa']
/** Roots opened at once to read or write known_hosts. */
const OPEN_AT_ONCE = 4

/** A public key line as ssh-keygen writes it; anything else (a node may have planted it) is skipped. */
const PUBLIC_KEY = /^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa) [A-Za-z0-9+/]+=*(\s.*)?$/

export function knownHostsLine(names: readonly string[], publicKey: string): string | undefined {
  const line = publicKey.trim().split('\n')[0]
  if (!PUBLIC_KEY.test(line)) return undefined
  const [type, key] = line.split(/\s+/)
  return `${names.join(',')} ${type} ${key}`
}

/** The public host keys in a root's tree. */
async function publicKeysIn(dir: string): Promise<string[]> {
  const pubs = await Promise.all(KEY_TYPES.map((type) => readInRoot(dir, `${hostKeyFile(type)}.pub`)))
  return pubs.filter((p): p is string => p !== undefined)
}

/** Keeps the node's public host keys in pxeroot's state: those given, or those in its root (open, its identity just written). */
export async function recordHostKeys(ctx: Pick<Context, 'root' | 'files'>, node: string, from: string | readonly string[]): Promise<void> {
  const pubs = (typeof from === 'string' ? await publicKeysIn(from) : from).map((p) => p.trim().split('\n')[0])
  await ctx.files.write(ctx.root.resolve(path.posix.join(HOST_KEYS_DIR, node)), pubs.join('\n') + '\n', {mode: 0o644})
}

/** Host keys for new roots, made before they are cloned, by node. */
export async function newHostKeySets(site: SiteModel, nodes: readonly string[]): Promise<Map<string, Map<HostKeyType, HostKeyFiles>>> {
  return new Map(await Promise.all(nodes.map(async (node) =>
    [node, new Map(await Promise.all(site.clone.hostKeyTypes.map(async (type) => [type, await newHostKey(type, `root@${node}`)] as const)))] as const)))
}

/**
 * The cluster's known_hosts as it will be once the roots being made are in place (for storage
 * whose roots are written only while pxeroot holds them): the recorded keys of the nodes that
 * have roots and are not being remade, and the keys given for those being made.
 */
export async function plannedKnownHosts(ctx: Context, site: SiteModel, storage: StorageBackend, inventory: Inventory, making: ReadonlyMap<string, readonly string[]>): Promise<string> {
  const present = await storage.listRoots()
  const lines = await Promise.all([...inventory.nodes].sort(byName).filter((n) => making.has(n.name) || present.has(n.name)).map(async (node) =>
    linesOf(site, node, making.get(node.name) ?? await recordedKeys(ctx, node.name))))
  return knownHostsText(lines.flat())
}

function linesOf(site: SiteModel, node: Pick<InventoryNode, 'name' | 'ip'>, pubs: readonly string[]): string[] {
  const names = [node.name, ...(site.domain ? [`${node.name}.${site.domain}`] : []), node.ip]
  return pubs.flatMap((pub) => {
    const line = knownHostsLine(names, pub)
    return line ? [line] : []
  })
}

function knownHostsText(lines: readonly string[]): string {
  return `# Host keys of the pxeroot nodes; written by pxeroot after clone, rebase and rm.\n${lines.join('\n')}${lines.length > 0 ? '\n' : ''}`
}

async function recordedKeys(ctx: Pick<Context, 'root'>, node: string): Promise<string[]> {
  const text = await readInRoot(ctx.root.resolve(HOST_KEYS_DIR), node)
  return text ? text.split('\n').filter(Boolean) : []
}

/**
 * Writes the cluster known_hosts on the server, and a copy into the roots it may write: every root
 * when the storage's roots are shared with their running nodes (NFS), else only `fresh` (roots
 * this run switched that have no copy yet: their nodes are down), since a root a node maps itself
 * must never be written behind its back. Keys are read from the roots where the server can read
 * them, else from what recordHostKeys kept.
 */
export async function publishKnownHosts(ctx: Context, site: SiteModel, storage: StorageBackend, inventory: Inventory, fresh: readonly string[] = []): Promise<number> {
  const present = await storage.listRoots()
  // By name, so every writer of the file (this one, plannedKnownHosts) writes it the same.
  const withRoots = [...inventory.nodes].sort(byName).filter((n) => present.has(n.name))
  const perNode = settled(await mapBounded(withRoots, OPEN_AT_ONCE, async (node) =>
    linesOf(site, node, storage.rootsShared ? await withOpenRoot(storage, node.name, false, publicKeysIn) : await recordedKeys(ctx, node.name))))
  const lines = perNode.flat()
  const text = knownHostsText(lines)
  await ctx.files.write(ctx.root.resolve(KNOWN_HOSTS_FILE), text, {mode: 0o644})
  const targets = storage.rootsShared ? withRoots : withRoots.filter((n) => fresh.includes(n.name))
  // A root whose /etc/ssh is not a plain directory does not get the copy; the rest still do.
  const written = await mapBounded(targets, OPEN_AT_ONCE, (node) => withOpenRoot(storage, node.name, true, (dir) => writeInRoot(ctx.files, dir, NODE_KNOWN_HOSTS, text)))
  written.forEach((w, i) => {
    if (w.status === 'rejected') ctx.log(`${NODE_KNOWN_HOSTS} not written into ${targets[i].name}'s root: ${(w.reason as Error).message}`)
  })
  return lines.length
}

async function withOpenRoot<T>(storage: StorageBackend, name: string, write: boolean, fn: (dir: string) => Promise<T>): Promise<T> {
  const root = await storage.openRoot(name, {write})
  try {
    return await fn(root.dir)
  } finally {
    await root.close()
  }
}
