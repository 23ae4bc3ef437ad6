import {promises as fs} from 'node:fs'
import path from 'node:path'

import {type RbdSettings, type SiteModel} from '../../config/site.js'
import {PreconditionError} from '../../errors.js'
import {attachLoop, detachLoop} from '../../system/block.js'
import {cephArgv, cephEnv} from '../../system/ceph.js'
import {type Context} from '../../system/context.js'
import {type DetachedRecord, spawnDetached, stopDetached} from '../../system/detached.js'
import {exists, readIfExists} from '../../system/files.js'
import {mountFs, mountOf, readMounts, unmount} from '../../system/mounts.js'
import {nodeRootDir} from '../names.js'
import {clientOf, rbdSettings} from './cluster.js'
import {ROOT_IMAGE} from './names.js'

/**
 * An rbd gateway (storage.rbd.mode: gateway) keeps each of its nodes' clones attached at the
 * node's root path, for its NFS server to export: nodes that must not reach the storage network
 * boot NFS roots as on a local site. Per node: a qemu-storage-daemon serving the clone as a FUSE
 * file, a loop device over it, its ext4 mounted at paths.nodes/NODE. One daemon per node, so the
 * end of one (gotcha 4 of notes/ceph.md: every root it served gets EIO) touches one node.
 *
 * On a server with systemd these are units apply writes (render/systemd/gateway-units.ts), so
 * they come back after a reboot, and attachGateway starts them; elsewhere (no systemd, --root:
 * the tests) the daemon is started detached, bounded, and recorded beside its FUSE file.
 * attachGateway and detachGateway are what a takeover by another server calls too.
 */
export const GATEWAY_DIR = '/run/pxeroot/gateway'
/** A detached gateway daemon's bound (no systemd to keep it): the lab's and the tests' lifetime. */
const DETACHED_LIFETIME_S = 12 * 3600

/** The daemon's arguments for `node` (`%i` in the units): the node's root image, served writable. */
export function gatewayDaemonArgs(settings: RbdSettings, conf: string, node: string, file: string): string[] {
  return [
    '--blockdev', `driver=rbd,node-name=root,pool=${settings.pool},namespace=${node},image=${ROOT_IMAGE},conf=${conf},user=${settings.id},cache.direct=on`,
    '--export', `type=fuse,id=root,node-name=root,mountpoint=${file},writable=on`,
  ]
}

interface Where {
  file: string
  record: string
  mountAt: string
}

function where(ctx: Context, site: SiteModel, node: string): Where {
  const dir = ctx.root.resolve(GATEWAY_DIR)
  return {file: path.join(dir, node), record: path.join(dir, `${node}.json`), mountAt: ctx.root.resolve(nodeRootDir(site, node))}
}

/** The mount unit of the node's root path (apply writes it: render/systemd/gateway-units.ts). */
async function mountUnit(ctx: Context, site: SiteModel, node: string): Promise<string> {
  return (await ctx.runner.run('systemd-escape', ['--path', '--suffix=mount', nodeRootDir(site, node)], {timeout: 10_000})).stdout.trim()
}

/** Whether systemd runs this server (units are started through it, rather than processes of ours). */
async function underSystemd(ctx: Context): Promise<boolean> {
  return ctx.root.isHost && await exists('/run/systemd/system')
}

/** The loop device mounted at the node's root path over its FUSE file; undefined when it is not attached. */
export async function gatewayLoop(ctx: Context, site: SiteModel, node: string): Promise<string | undefined> {
  const w = where(ctx, site, node)
  const mounts = await readMounts()
  const real = await fs.realpath(w.mountAt).catch(() => undefined)
  const entry = mounts.filter((m) => m.mountPoint === real).at(-1)
  if (!entry || !/^\/dev\/loop\d+$/.test(entry.source)) return undefined
  const backing = (await fs.readFile(`/sys/block/${path.basename(entry.source)}/loop/backing_file`, 'utf8').catch(() => '')).trim()
  return backing === w.file ? entry.source : undefined
}

/** Attaches the node's clone at its root path (nothing when it is); returns whether it did. */
export async function attachGateway(ctx: Context, site: SiteModel, node: string): Promise<boolean> {
  if (await gatewayLoop(ctx, site, node)) return false
  const settings = rbdSettings(site)
  const w = where(ctx, site, node)
  await ctx.files.mkdir(w.mountAt, 0o755)
  if (await underSystemd(ctx)) {
    await ctx.runner.run('systemctl', ['daemon-reload'], {timeout: 60_000})
    await ctx.runner.run('systemctl', ['start', await mountUnit(ctx, site, node)], {timeout: 120_000})
    return true
  }
  const client = clientOf(ctx.root, settings)
  await ctx.files.mkdir(path.dirname(w.file), 0o700)
  await ctx.files.write(w.file, '', {mode: 0o600})
  const [command, args] = cephArgv(client, DETACHED_LIFETIME_S, 'qemu-storage-daemon', gatewayDaemonArgs(settings, client.conf, node, w.file), {outlive: true})
  const daemon = await spawnDetached({name: `rbd-gateway-${node}`, command, args, log: `${w.file}.log`, env: cephEnv(client)})
  try {
    await ctx.files.write(w.record, JSON.stringify(daemon), {mode: 0o600})
    const loop = await attachLoop(ctx.runner, w.file, {readOnly: false, waitMs: 15_000})
    try {
      await mountFs(ctx.runner, 'ext4', loop, w.mountAt, 'rw', {signal: ctx.signal})
    } catch (error) {
      await detachLoop(ctx.runner, loop).catch(() => undefined)
      throw error
    }
  } catch (error) {
    await stopDetached(daemon)
    await ctx.files.remove(w.record)
    await ctx.files.remove(w.file)
    throw error
  }
  return true
}

/** Detaches the node's clone from its root path (nothing when it is not attached); returns whether it did. */
export async function detachGateway(ctx: Context, site: SiteModel, node: string): Promise<boolean> {
  const w = where(ctx, site, node)
  const record = await readIfExists(w.record)
  const loop = await gatewayLoop(ctx, site, node)
  if (!record && !loop) return false
  if (!record && await underSystemd(ctx)) {
    await ctx.runner.run('systemctl', ['stop', await mountUnit(ctx, site, node), `pxeroot-rbd-root@${node}.service`], {timeout: 120_000})
    return true
  }
  if (loop) {
    // The NFS server may hold the root open: then it goes lazily, out of the mount table at once.
    await unmount(ctx.runner, w.mountAt).catch(() => unmount(ctx.runner, w.mountAt, {lazy: true}))
    await detachLoop(ctx.runner, loop)
  }
  if (record) await stopDetached(JSON.parse(record.toString('utf8')) as DetachedRecord)
  await ctx.files.remove(w.record)
  await ctx.files.remove(w.file)
  if (await mountOf(w.file).then((m) => m.mountPoint === w.file, () => false)) await unmount(ctx.runner, w.file, {lazy: true})
  return true
}

/** Refuses what a gateway cannot attach: a site that is not one. */
export function requireGateway(site: SiteModel): void {
  if (site.storage.backend !== 'rbd' || site.storage.rbd?.mode !== 'gateway') throw new PreconditionError('the site is no rbd gateway (storage.rbd.mode: gateway)')
}

/** Apply's step on the server: every node root of the gateway attached; what was done, in words. */
export async function attachGatewayRoots(ctx: Context, site: SiteModel, nodes: readonly string[]): Promise<string[]> {
  const done: string[] = []
  for (const node of nodes) {
    if (await attachGateway(ctx, site, node)) done.push(`attached ${node}'s root from Ceph RBD at ${nodeRootDir(site, node)}`)
  }
  return done
}
