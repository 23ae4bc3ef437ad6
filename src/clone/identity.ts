import {randomBytes} from 'node:crypto'
import {promises as fs} from 'node:fs'

import {type SiteModel} from '../config/site.js'
import {type Context} from '../system/context.js'
import {settled} from '../system/pool.js'
import {readInRoot, removeInRoot, rootPath, symlinkInRoot, writeInRoot} from '../system/root-files.js'
import {type HostKeyFiles, newHostKey, type HostKeyType} from './host-keys.js'

export type {HostKeyType} from './host-keys.js'

export interface NodeIdentity {
  name: string
  domain?: string
  /** The site's DNS servers: the node's resolvers (DHCP hands them to the initramfs, which does not pass them on). */
  dns: readonly string[]
  /** The server's address on the boot network, listed in the node's /etc/hosts. */
  server: string
  machineId: string
  hostKeyTypes: readonly HostKeyType[]
  /** "keep": host keys already in the root (carried by a rebase) stay when every wanted type is
   * there. "fresh": whatever the root has (a copy of the image's) is replaced. */
  hostKeys: 'fresh' | 'keep'
  /** Fresh keys made beforehand (known-hosts.ts: every new root then gets the cluster's
   * known_hosts in the one attach its identity takes); made here when absent. */
  keys?: ReadonlyMap<HostKeyType, HostKeyFiles>
}

export const MACHINE_ID = /^[0-9a-f]{32}$/

/** A node's identity as the site defines it (the same for a clone and a rebase). */
export function identityOf(site: SiteModel, name: string, machineId: string, hostKeys: NodeIdentity['hostKeys']): NodeIdentity {
  return {name, domain: site.domain, dns: site.dns, server: site.server, machineId, hostKeyTypes: site.clone.hostKeyTypes, hostKeys}
}

/** A random machine-id shaped as systemd makes them (a v4 UUID without dashes). */
export function newMachineId(): string {
  const b = randomBytes(16)
  b[6] = (b[6] & 0x0f) | 0x40
  b[8] = (b[8] & 0x3f) | 0x80
  return b.toString('hex')
}

export function renderHosts(id: Pick<NodeIdentity, 'name' | 'domain' | 'server'>): string {
  const fqdn = id.domain ? `${id.name}.${id.domain} ` : ''
  return [
    '# Written by pxeroot for this node.',
    '127.0.0.1\tlocalhost',
    `127.0.1.1\t${fqdn}${id.name}`,
    `${id.server}\tpxeroot-server`,
    '',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'ff02::1\tip6-allnodes',
    'ff02::2\tip6-allrouters',
    '',
  ].join('\n')
}

/** /etc/resolv.conf from the site's dns and domain; the image's placeholder when the site has neither. */
export function renderResolvConf(id: Pick<NodeIdentity, 'dns' | 'domain'>): string | undefined {
  if (id.dns.length === 0 && !id.domain) return undefined
  return [
    '# Written by pxeroot from the site\'s dns and domain (pxeroot.yaml); a rebase writes it again.',
    ...(id.domain ? [`search ${id.domain}`] : []),
    ...id.dns.map((ip) => `nameserver ${ip}`),
    '',
  ].join('\n')
}

export function hostKeyFile(type: HostKeyType): string {
  return `/etc/ssh/ssh_host_${type}_key`
}

/** Host keys a root already has (carried over from a previous root), by type. */
export async function existingHostKeys(nodeRoot: string): Promise<HostKeyType[]> {
  const found: HostKeyType[] = []
  for (const type of ['ed25519', 'ecdsa', 'rsa'] as const) {
    const pub = await readInRoot(nodeRoot, `${hostKeyFile(type)}.pub`)
    const st = await fs.lstat(rootPath(nodeRoot, hostKeyFile(type))).catch(() => undefined)
    if (pub && st?.isFile()) found.push(type)
  }
  return found
}

/** Removes every ssh_host_* file (keys an image should not carry, or stale ones). */
export async function removeHostKeys(ctx: Pick<Context, 'files'>, nodeRoot: string): Promise<void> {
  await removeInRoot(ctx.files, nodeRoot, '/etc/ssh', (name) => name.startsWith('ssh_host_'))
}

/** Fresh keys of each type, made in-process (host-keys.ts) and written as ssh-keygen would: the
 * private key 0600, the public key 0644, commented root@NAME. */
export async function generateHostKeys(ctx: Pick<Context, 'files'>, nodeRoot: string, name: string, types: readonly HostKeyType[], signal?: AbortSignal, made?: ReadonlyMap<HostKeyType, HostKeyFiles>): Promise<void> {
  settled(await Promise.allSettled(types.map(async (type) => {
    const key = made?.get(type) ?? await newHostKey(type, `root@${name}`)
    signal?.throwIfAborted()
    await writeInRoot(ctx.files, nodeRoot, hostKeyFile(type), key.privateKey, 0o600)
    await writeInRoot(ctx.files, nodeRoot, `${hostKeyFile(type)}.pub`, key.publicKey, 0o644)
  })))
}

/**
 * Makes a cloned root a distinct machine: hostname, hosts, machine-id (dbus's copy a link to it)
 * and SSH host keys. Keys the root already has of every wanted type are kept (a rebase carries
 * them), so known_hosts entries stay valid; otherwise all are replaced by fresh ones.
 */
export async function writeIdentity(ctx: Pick<Context, 'files'>, nodeRoot: string, id: NodeIdentity, signal?: AbortSignal): Promise<void> {
  const resolv = renderResolvConf(id)
  const hostKeys = async () => {
    if (id.hostKeys === 'keep') {
      const have = await existingHostKeys(nodeRoot)
      if (id.hostKeyTypes.every((t) => have.includes(t))) return
    }
    await removeHostKeys(ctx, nodeRoot)
    await generateHostKeys(ctx, nodeRoot, id.name, id.hostKeyTypes, signal, id.keys)
  }
  // Different files, side by side; every write has ended before a failure is passed on, so the
  // caller's removal of the root never races a write.
  settled(await Promise.allSettled([
    writeInRoot(ctx.files, nodeRoot, '/etc/hostname', `${id.name}\n`),
    writeInRoot(ctx.files, nodeRoot, '/etc/hosts', renderHosts(id)),
    resolv && writeInRoot(ctx.files, nodeRoot, '/etc/resolv.conf', resolv),
    writeInRoot(ctx.files, nodeRoot, '/etc/machine-id', `${id.machineId}\n`, 0o444),
    symlinkInRoot(ctx.files, nodeRoot, '/var/lib/dbus/machine-id', '/etc/machine-id'),
    hostKeys(),
  ]))
}

/** The machine-id a root carries, when it is a valid one. */
export async function readMachineId(nodeRoot: string): Promise<string | undefined> {
  const text = (await readInRoot(nodeRoot, '/etc/machine-id'))?.trim()
  return text && MACHINE_ID.test(text) ? text : undefined
}
