import {promises as fs} from 'node:fs'

import {type SiteModel} from '../config/site.js'
import {nodeRootDir} from '../images/layout.js'
import {type Inventory} from '../inventory/inventory.js'
import {type Context} from '../system/context.js'
import {type Root} from '../system/paths.js'
import {readInRoot, writeInRoot} from '../system/root-files.js'
import {hostKeyFile, type HostKeyType} from './identity.js'

/** The cluster's known_hosts, published by the server (host path). */
export const KNOWN_HOSTS_FILE = '/etc/pxeroot/known_hosts'
/** Where each node root gets a copy, so nodes trust each other's keys. */
export const NODE_KNOWN_HOSTS = '/etc/ssh/ssh_known_hosts'

/** A public key line as ssh-keygen writes it; anything else (a node may have planted it) is skipped. */
const PUBLIC_KEY = /^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa) [A-Za-z0-9+/]+=*(\s.*)?$/

export function knownHostsLine(names: readonly string[], publicKey: string): string | undefined {
  const line = publicKey.trim().split('\n')[0]
  if (!PUBLIC_KEY.test(line)) return undefined
  const [type, key] = line.split(/\s+/)
  return `${names.join(',')} ${type} ${key}`
}

/** Lines for every node that has a root with host keys, in inventory order. */
export async function knownHostsLines(root: Root, site: SiteModel, inventory: Inventory): Promise<string[]> {
  const perNode = await Promise.all(inventory.nodes.map(async (node) => {
    const nodeRoot = root.resolve(nodeRootDir(site, node.name))
    const names = [node.name, ...(site.domain ? [`${node.name}.${site.domain}`] : []), node.ip]
    const pubs = await Promise.all((['ed25519', 'ecdsa', 'rsa'] as HostKeyType[]).map((type) => readInRoot(nodeRoot, `${hostKeyFile(type)}.pub`)))
    return pubs.flatMap((pub) => {
      const line = pub && knownHostsLine(names, pub)
      return line ? [line] : []
    })
  }))
  return perNode.flat()
}

/** Writes the cluster known_hosts on the server and into every node root that exists. */
export async function publishKnownHosts(ctx: Pick<Context, 'root' | 'files'>, site: SiteModel, inventory: Inventory): Promise<number> {
  const {root, files} = ctx
  const lines = await knownHostsLines(root, site, inventory)
  const text = `# Host keys of the pxeroot nodes; written by pxeroot after clone, rebase and rm.\n${lines.join('\n')}${lines.length > 0 ? '\n' : ''}`
  await files.write(root.resolve(KNOWN_HOSTS_FILE), text, {mode: 0o644})
  await Promise.all(inventory.nodes.map(async (node) => {
    const nodeRoot = root.resolve(nodeRootDir(site, node.name))
    const st = await fs.lstat(nodeRoot).catch(() => undefined)
    // A root whose /etc/ssh is not a plain directory does not get the copy; the rest still do.
    if (st?.isDirectory()) await writeInRoot(files, nodeRoot, NODE_KNOWN_HOSTS, text).catch(() => undefined)
  }))
  return lines.length
}
