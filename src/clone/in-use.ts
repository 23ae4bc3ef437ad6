import {promises as fs} from 'node:fs'
import path from 'node:path'

import {type SiteModel} from '../config/site.js'
import {UserError} from '../errors.js'
import {nodeRootDir} from '../images/layout.js'
import {type InventoryNode} from '../inventory/inventory.js'
import {type StorageBackend} from '../storage/backend.js'
import {type Root} from '../system/paths.js'

/**
 * What the server can tell about NFS clients without asking them (all host paths, read under
 * --root so tests can stage them):
 *  - /var/lib/nfs/rmtab: kernel nfsd's rpc.mountd records NFSv3 MNT calls (client:path:0xcount).
 *    The initramfs mounts the root with v3, so a booted node shows up here. Entries of a node that
 *    crashed stay until the next UMNT, so this can err on the side of "in use".
 *  - /proc/fs/nfsd/clients/<id>/info: kernel nfsd's NFSv4 clients by address (v4 mounts of /home...).
 *  - /var/lib/nfs/ganesha/v4recov/ (NFS-Ganesha's recovery directory): one entry per NFSv4 client,
 *    named with its address. Ganesha keeps no record of NFSv3 mounts on disk; its live client
 *    list is only reachable over D-Bus, which pxeroot does not query (documented limit).
 */
export const NFS_STATE = {
  rmtab: '/var/lib/nfs/rmtab',
  nfsdClients: '/proc/fs/nfsd/clients',
  ganeshaRecovery: '/var/lib/nfs/ganesha/v4recov',
} as const

function within(dir: string, p: string): boolean {
  return p === dir || p.startsWith(`${dir.replace(/\/+$/, '')}/`)
}

async function rmtabEvidence(root: Root, rootPath: string, ip: string): Promise<string[]> {
  const text = await fs.readFile(root.resolve(NFS_STATE.rmtab), 'utf8').catch(() => '')
  const out: string[] = []
  for (const line of text.split('\n')) {
    const m = /^([^:]+):(.+):0x([0-9a-f]+)$/i.exec(line.trim())
    if (!m || Number.parseInt(m[3], 16) === 0) continue
    if (within(rootPath, m[2]) || within(m[2], rootPath) && m[1] === ip) out.push(`${NFS_STATE.rmtab}: ${m[1]} has ${m[2]} mounted`)
  }
  return out
}

async function nfsdClientEvidence(root: Root, ip: string): Promise<string[]> {
  const dir = root.resolve(NFS_STATE.nfsdClients)
  const out: string[] = []
  for (const id of await fs.readdir(dir).catch(() => [] as string[])) {
    const info = await fs.readFile(path.join(dir, id, 'info'), 'utf8').catch(() => '')
    if (new RegExp(`address:\\s*"?${ip.replace(/\./g, '\\.')}:`).test(info)) out.push(`${NFS_STATE.nfsdClients}/${id}: NFSv4 client ${ip}`)
  }
  return out
}

async function ganeshaEvidence(root: Root, ip: string): Promise<string[]> {
  const out: string[] = []
  const stack = [root.resolve(NFS_STATE.ganeshaRecovery)]
  const ipWord = new RegExp(`(^|[^0-9])${ip.replace(/\./g, '\\.')}([^0-9]|$)`)
  for (let guard = 0; stack.length > 0 && guard < 10_000; guard++) {
    const dir = stack.pop()!
    for (const e of await fs.readdir(dir, {withFileTypes: true}).catch(() => [])) {
      if (ipWord.test(e.name)) out.push(`${NFS_STATE.ganeshaRecovery}: NFSv4 client ${ip} (${e.name})`)
      else if (e.isDirectory()) stack.push(path.join(dir, e.name))
    }
  }
  return out
}

/** Evidence that a node root is mounted by a client right now; empty when nothing says so. */
export async function rootInUse(root: Root, rootHostPath: string, nodeIp: string): Promise<string[]> {
  return [
    ...await rmtabEvidence(root, rootHostPath, nodeIp),
    ...await nfsdClientEvidence(root, nodeIp),
    ...await ganeshaEvidence(root, nodeIp),
  ]
}

/** Refuses (nothing changed) when any of the roots looks in use (mounted by an NFS client, or
 * held where the storage backend keeps it), unless forced. */
export async function refuseInUse(root: Root, site: SiteModel, storage: StorageBackend, nodes: readonly InventoryNode[], force: boolean | undefined, verb: string): Promise<void> {
  if (force) return
  const busy: string[] = []
  for (const node of nodes) {
    const evidence = [...await rootInUse(root, nodeRootDir(site, node.name), node.ip), ...await storage.rootInUse(node.name)]
    if (evidence.length > 0) busy.push(`${node.name} (${evidence[0]})`)
  }
  if (busy.length > 0) {
    throw new UserError(`refusing to ${verb} ${busy.length === 1 ? 'a root that looks' : 'roots that look'} in use: ${busy.join('; ')}; nothing was changed`,
      'shut the node down first, or pass --force if that state is stale')
  }
}
