import {promises as fs} from 'node:fs'
import path from 'node:path'

import {type SiteModel} from '../config/site.js'
import {NoSpaceError, UserError} from '../errors.js'
import {makeExt4From} from '../system/block.js'
import {runCephTool, RbdError, RbdSession} from '../system/ceph.js'
import {type Context} from '../system/context.js'
import {readIfExists} from '../system/files.js'
import {STATE} from '../system/paths.js'
import {mapBounded} from '../system/pool.js'
import {removeTree} from '../system/trees.js'
import {type OpenRoot, type RootBoot, type RootSize, type StorageBackend} from './backend.js'
import {copyToStaging, createStaging, discardStaging, resetWork} from './local/revisions.js'
import {nodeOfRoot, nodeRootDir, revisionManifest, TEMP_ROOT} from './names.js'
import {Attacher} from './rbd/attach.js'
import {clientOf, nodeMonitors, rbdSettings} from './rbd/cluster.js'
import {rbdChecks} from './rbd/doctor.js'
import {detachGateway, gatewayLoop} from './rbd/gateway.js'
import {nodeCaps, nodeUser, REVISIONS_NAMESPACE, revisionImage, revisionNumbers, revisionSnap, ROOT_IMAGE, rootEntry, rootSpec, rootUuid} from './rbd/names.js'
import {mib, requireSpace} from './space.js'

/**
 * The rbd backend: revisions and roots in a Ceph pool (rbd/names.ts says where). A revision is
 * the built tree as an ext4 image (`mke2fs -d`, no loop device), imported and kept as a protected
 * snapshot; a root is a copy-on-write clone of it in the node's own RBD namespace, reached by the
 * node with its own cephx key, whose caps stop at that namespace (and read the revisions). Builds
 * and changes still happen in a staging tree on this server's disk; what pxeroot writes into a
 * root (identity, node-local state) it writes with the root attached here (rbd/attach.ts).
 */

/** Each node's cephx secret, as its boot entry hands it over (root-only; the key itself is the cluster's). */
export const RBD_KEYS_DIR = path.posix.join(STATE.stateDir, 'rbd-keys')
/** What the ext4 of a revision is sized at: room for what nodes write into their clones (thin: unwritten space costs the cluster nothing). */
const MIN_ROOT_BYTES = 4 * 2 ** 30
/** A fresh clone with its identity written holds a few 4 MiB objects (superblock, journal, bitmaps, /etc). */
const CLONE_BYTES = 16 * 2 ** 20

interface RootInfo {
  size: number
  parent: string | null
  watchers: string[]
}

export function rbdStorage(ctx: Context, site: SiteModel): StorageBackend {
  const settings = rbdSettings(site)
  const client = clientOf(ctx.root, settings)
  const session = new RbdSession(client)
  const attacher = new Attacher(ctx, client)
  const call = <T>(op: string, args: Record<string, unknown> = {}) => session.call<T>(op, args)
  const where = (namespace: string, image: string) => `${settings.pool}/${namespace}/${image}`
  const keyFile = (node: string) => ctx.root.resolve(path.posix.join(RBD_KEYS_DIR, node))

  const info = (namespace: string, image: string) => call<RootInfo | null>('info', {namespace, image})

  async function ensureKey(node: string): Promise<void> {
    if (await readIfExists(keyFile(node))) return
    const secret = await call<string>('key', {user: nodeUser(settings.pool, node), caps: nodeCaps(settings.pool, node), owns: `pool=${settings.pool} namespace=${node},`})
    await ctx.files.mkdir(path.dirname(keyFile(node)), 0o700)
    await ctx.files.write(keyFile(node), `${secret}\n`, {mode: 0o600})
  }

  const gateway = settings.mode === 'gateway'
  /** A gateway's node root attached at its path (the NFS server's): what pxeroot opens, and must let go of before renaming it. */
  const attachedHere = async (name: string) => gateway && nodeOfRoot(name) === name && await gatewayLoop(ctx, site, name) !== undefined

  async function openRoot(name: string, options: {write: boolean}): Promise<OpenRoot> {
    // A gateway root is mounted for its NFS clients already: a second attach would be a second writer.
    if (await attachedHere(name)) return {dir: ctx.root.resolve(nodeRootDir(site, name)), close: async () => {}}
    const {namespace, image} = rootSpec(name)
    // A root written here is its node's filesystem: with its own UUID, not its revision's (rootUuid).
    if (options.write) return attacher.attach({namespace, image, readOnly: false, mountReadOnly: false, label: name, uuid: rootUuid(settings.pool, nodeOfRoot(name) ?? namespace)})
    // Its node may be running: a private copy-on-write view of what it synced, never the image itself.
    const found = await info(namespace, image)
    if (!found) throw new UserError(`${name} has no root in ${where(namespace, image)}`)
    return attacher.attach({namespace, image, readOnly: true, overlay: {bytes: found.size}, mountReadOnly: true, label: name})
  }

  /** The pool's room: what its quota and its OSDs still take. */
  async function poolRoom(): Promise<{free: number, full: boolean}> {
    const status = await call<{df: {stored: number, maxAvail: number, quotaBytes: number} | null, checks: Record<string, string>, poolFull: boolean}>('status')
    if (!status.df) throw new UserError(`storage.rbd.pool: pool ${settings.pool} does not exist`, `create it (ceph osd pool create ${settings.pool}) and run "pxeroot storage prepare --rbd ${settings.pool}"`)
    const free = Math.min(status.df.maxAvail, status.df.quotaBytes > 0 ? status.df.quotaBytes - status.df.stored : Number.POSITIVE_INFINITY)
    // A full OSD stops every pool; POOL_FULL may be another pool's quota (its own flag says).
    return {free: Math.max(0, free), full: status.poolFull || 'OSD_FULL' in status.checks}
  }

  async function requireRoom(bytes: number, what: string, says: string): Promise<number> {
    const room = await poolRoom()
    if (room.full || room.free < bytes) {
      throw new NoSpaceError(`${what}: pool ${settings.pool} is full: ${says} and it has ${mib(room.free)} free; nothing was created`,
        'free space in the pool (remove nodes, prune old revisions) or raise its quota (ceph osd pool set-quota)')
    }
    return room.free
  }

  async function removeImage(namespace: string, image: string): Promise<boolean> {
    try {
      return await call<boolean>('remove', {namespace, image})
    } catch (error) {
      if (error instanceof RbdError && error.errno === 16) throw new UserError(`${where(namespace, image)} is in use (${error.message.replace(/^.*in use by /, 'opened by ')}); nothing was removed`, 'shut its node down first')
      throw error
    }
  }

  return {
    kind: 'rbd',

    createStaging: (image) => createStaging(ctx, site, image),
    async workingCopy(ref) {
      return this.withRevisionTree(ref, (tree) => copyToStaging(ctx, site, ref.image, tree))
    },
    resetWork: (staging) => resetWork(ctx, staging),
    discardStaging: (staging) => discardStaging(ctx, staging),
    // The copy, then the ext4 image made from it when it is published.
    workingCopyBytes: async (_ref, treeBytes) => 2 * treeBytes,

    async sealRevision(staging, ref) {
      const used = Number((await ctx.runner.run('du', ['-s', '-B1', '--one-file-system', staging.work], {timeout: 10 * 60_000})).stdout.split(/\s+/)[0])
      const bytes = Math.ceil(Math.max(MIN_ROOT_BYTES, 3 * used) / 2 ** 22) * 2 ** 22
      const what = `${ref.image}@${ref.revision}`
      await requireSpace(staging.dir, {bytes: Math.round(used * 1.2), says: `its ext4 image needs about ${mib(used * 1.2)}`}, `publishing ${what}`, 'free space under paths.images')
      // The tree's blocks and the filesystem's metadata, with room: refused before anything is written to the pool.
      await requireRoom(Math.round(used * 1.2) + 64 * 2 ** 20, `publishing ${what}`, `its image needs about ${mib(used * 1.2)}`)
      const file = path.join(staging.dir, 'rootfs.ext4')
      const image = revisionImage(ref)
      try {
        await makeExt4From(ctx.runner, staging.work, file, bytes, ctx.signal)
        await call('namespace_create', {namespace: REVISIONS_NAMESPACE})
        ctx.log(`importing ${what} into ${where(REVISIONS_NAMESPACE, image)}`)
        await runCephTool(ctx.runner, client, 'rbd', [
          'import', '--no-progress', '--image-feature', 'layering', '--image-feature', 'exclusive-lock', '--image-feature', 'object-map', '--image-feature', 'fast-diff',
          file, `${settings.pool}/${REVISIONS_NAMESPACE}/${image}`,
        ], {seconds: 60 * 60, signal: ctx.signal})
        await call('import_snap', {namespace: REVISIONS_NAMESPACE, image, snap: revisionSnap(ref)})
      } catch (error) {
        // A pool that filled up meanwhile may refuse the removal too: the next run of this image removes it (removeStaleRevisions).
        const removed = await call('remove', {namespace: REVISIONS_NAMESPACE, image}).then(() => true, () => false)
        const room = await poolRoom().catch(() => undefined)
        if (room?.full) {
          throw new NoSpaceError(`publishing ${what}: pool ${settings.pool} became full during the import (${(error as Error).message}); ${removed ? 'nothing was kept' : `${where(REVISIONS_NAMESPACE, image)} is removed by the next build, update or import of ${ref.image}`}`,
            'free space in the pool (prune old revisions, raise its quota) and run the command again')
        }
        throw error
      } finally {
        await ctx.files.remove(file)
      }
      // What stays on this server is the manifest: the tree is in the pool.
      await removeTree(ctx.runner, staging.work)
      return 'rbd'
    },

    async withRevisionTree(ref, fn) {
      const view = await attacher.attach({namespace: REVISIONS_NAMESPACE, image: revisionImage(ref), snapshot: revisionSnap(ref), readOnly: true, mountReadOnly: true, label: `${ref.image}@${ref.revision}`})
      try {
        return await fn(view.dir)
      } finally {
        await view.close()
      }
    },
    revisionExists: async (ref) => (await fs.lstat(ctx.root.resolve(revisionManifest(site, ref))).catch(() => undefined))?.isFile() ?? false,
    async revisionDependents(ref) {
      const children = await call<string[]>('children', {namespace: REVISIONS_NAMESPACE, image: revisionImage(ref), snap: revisionSnap(ref)})
      return children.map((c) => {
        const [namespace, image] = c.split('/')
        return rootEntry(namespace, image) ?? c
      })
    },
    async removeRevision(ref) {
      await removeImage(REVISIONS_NAMESPACE, revisionImage(ref))
    },
    async removeStaleRevisions(image, promoted) {
      const names = await call<string[]>('images', {namespace: REVISIONS_NAMESPACE}).catch(() => [] as string[])
      const stale = revisionNumbers(image, names).filter((n) => !promoted.includes(n))
      for (const n of stale) await removeImage(REVISIONS_NAMESPACE, revisionImage({image, revision: n}))
      return stale.map((n) => where(REVISIONS_NAMESPACE, revisionImage({image, revision: n})))
    },

    async chooseMethod(_source, forced) {
      if (forced !== undefined && forced !== 'rbd') throw new UserError(`--method ${forced}: this site keeps its roots in Ceph pool ${settings.pool}, where a root is an RBD clone`, 'leave --method out')
      return {method: 'rbd', reason: `copy-on-write clone in pool ${settings.pool}, one namespace and key per node`}
    },
    async checkCloneSpace(_source, _method, n, what) {
      const needed = n * CLONE_BYTES
      return {needed, free: await requireRoom(needed, what, `${n} clone(s) need about ${mib(needed)}`), sparse: false}
    },
    // An rbd clone waits on the cluster and on FUSE round trips more than it computes: twice the
    // setting overlapped them best here (nodes clone 20 at load 9: 10.2 s at 8, 13-15 s at 4).
    cloneConcurrency: (_method, configured) => 2 * configured,
    async listRoots() {
      const all = await call<Record<string, string[]>>('roots', {skip: [REVISIONS_NAMESPACE]})
      return new Set(Object.entries(all).flatMap(([namespace, images]) => images.map((i) => rootEntry(namespace, i)).filter((e): e is string => e !== undefined)))
    },
    async rootExists(name) {
      const {namespace, image} = rootSpec(name)
      return call<boolean>('exists', {namespace, image})
    },
    async cloneRoot(source, name) {
      const {namespace, image} = rootSpec(name)
      if (namespace === REVISIONS_NAMESPACE) throw new UserError(`a node cannot be named ${REVISIONS_NAMESPACE} on an rbd site: it is the namespace of the revisions`, 'rename the node')
      await call('clone', {parentNamespace: REVISIONS_NAMESPACE, parent: revisionImage(source), snap: revisionSnap(source), namespace, image})
      try {
        await ensureKey(namespace)
      } catch (error) {
        await removeImage(namespace, image).catch(() => undefined)
        throw error
      }
    },
    openRoot,
    // A gateway's roots are NFS roots: written while their nodes run, as on a local site.
    rootsShared: gateway,
    async renameRoot(from, to) {
      if (await attachedHere(from)) await detachGateway(ctx, site, from)
      const a = rootSpec(from)
      const b = rootSpec(to)
      if (a.namespace !== b.namespace) throw new Error(`internal: ${from} and ${to} are roots of two nodes`)
      await call('rename', {namespace: a.namespace, from: a.image, to: b.image})
    },
    async removeRoot(name) {
      if (await attachedHere(name)) await detachGateway(ctx, site, name)
      const {namespace, image} = rootSpec(name)
      await removeImage(namespace, image)
    },
    async removeLeftovers() {
      const leftovers = [...await this.listRoots()].filter((name) => TEMP_ROOT.test(name))
      const removed: string[] = []
      for (const name of leftovers) {
        const {namespace, image} = rootSpec(name)
        if (await removeImage(namespace, image).catch(() => false)) removed.push(name)
      }
      return removed
    },
    async removeNode(node) {
      const removed: string[] = []
      if (await attachedHere(node)) await detachGateway(ctx, site, node)
      const images = await call<string[]>('images', {namespace: node}).catch(() => [] as string[])
      for (const image of images) {
        if (rootEntry(node, image) === undefined) continue
        if (await removeImage(node, image)) removed.push(where(node, image))
      }
      if ((await call<string[]>('images', {namespace: node}).catch(() => [] as string[])).length === 0) await call('namespace_remove', {namespace: node})
      await call('key_remove', {user: nodeUser(settings.pool, node)})
      removed.push(`key client.${nodeUser(settings.pool, node)}`)
      await ctx.files.remove(keyFile(node))
      return removed
    },
    async rootInUse(node) {
      // A gateway's own daemon holds its roots open: whether a node uses one is its NFS server's to say.
      if (gateway) return []
      const found = await info(node, ROOT_IMAGE)
      return found && found.watchers.length > 0 ? [`${where(node, ROOT_IMAGE)} is open by ${found.watchers.join(', ')}`] : []
    },
    async rootSizes(names) {
      const specs = names.map((n) => rootSpec(n))
      const used = await call<Record<string, number>>('du', {images: specs.map((s) => `${s.namespace}/${s.image}`)})
      const sizes = new Map<string, RootSize>()
      names.forEach((name, i) => {
        const bytes = used[`${specs[i].namespace}/${specs[i].image}`]
        if (bytes !== undefined) sizes.set(name, {exclusive: bytes, kind: 'exclusive', fsType: 'rbd'})
      })
      return sizes
    },
    async check(nodes) {
      return rbdChecks({call, settings, keyFile, where}, nodes)
    },

    async rootBoot(nodes) {
      if (settings.mode === 'gateway') return new Map(nodes.map((node): [string, RootBoot] => [node, {kind: 'nfs', path: nodeRootDir(site, node)}]))
      const monitors = await nodeMonitors(ctx.root, settings)
      const secrets = await mapBounded(nodes, 16, async (node) => (await readIfExists(keyFile(node)))?.toString('utf8').trim())
      return new Map(nodes.map((node, i): [string, RootBoot] => {
        const secret = secrets[i].status === 'fulfilled' ? secrets[i].value : undefined
        return [node, {kind: 'rbd', monitors, pool: settings.pool, namespace: node, image: ROOT_IMAGE, user: nodeUser(settings.pool, node), ...(secret ? {secret} : {})}]
      }))
    },

    async close() {
      await attacher.close()
      await session.close()
    },
  }
}
