import {createHash} from 'node:crypto'
import {promises as fs} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {BusyError, NoSpaceError, PreconditionError, PxerootError} from '../errors.js'
import {StateSession, StateSessionError, type StateCluster} from '../system/cluster-state.js'
import {type Context} from '../system/context.js'
import {readIfExists, tempNameFor} from '../system/files.js'
import {STATE, type Root} from '../system/paths.js'
import {type SiteModel} from './site.js'

/**
 * The site's state in its Ceph cluster (README "Several boot servers"): on a site whose storage
 * is a Ceph pool, the site file, the inventory and the image revisions' metadata (manifests,
 * `current`, the revision counter, the published kernels and initrds) are kept in the pool, in a
 * RADOS namespace of their own, so that every server renders the same site and none holds the
 * only copy. Each server keeps a copy at the usual paths (the commands read those), mirrored:
 *
 * - `pxeroot.state`: one JSON document {format, version, writer, files}, every state file by host
 *   path: text as it is, a symlink as its target, a large file as the name of a blob object;
 * - `pxeroot.blob.<sha256>`: a large file's bytes (kernels, initrds), written once, by content;
 * - a cluster-wide exclusive lock `pxeroot` on `pxeroot.lock`, taken by every changing command for
 *   its whole run (renewed while it runs, expiring 30 s after a killed run), its holder named in
 *   that object's `pxeroot.holder` attribute;
 * - every write of the document a compare-and-swap on its RADOS version (state-session.py).
 *
 * This server's copy was last synced to the version recorded in /var/lib/pxeroot/cluster-state.json
 * (the base): a file that differs from the base was changed here and is pushed; one the cluster
 * changed since is pulled; one changed on both sides is a conflict, refused.
 */
export const STATE_OBJECT = 'pxeroot.state'
/** The lock is on an object of its own: renewing it must not change the state object's version. */
export const LOCK_OBJECT = 'pxeroot.lock'
export const STATE_LOCK = 'pxeroot'
/** A RADOS namespace no node's RBD namespace can take (node names have no dots). */
export const STATE_NAMESPACE = 'pxeroot.site'
export const BASE_RECORD = '/var/lib/pxeroot/cluster-state.json'
/** The lock's lifetime without renewal: how long a killed run keeps others out. */
export const LOCK_SECONDS = 30
const blobObject = (sha: string) => `pxeroot.blob.${sha}`

/** One state file in the document. */
export type StateEntry = {text: string} | {link: string} | {blob: string, size: number}

export interface StateDocument {
  format: 1
  /** Counts the writes; the CAS itself is on the object's RADOS version. */
  version: number
  writer?: Writer
  files: Record<string, StateEntry>
}

export interface Writer {
  server?: string
  host: string
  pid: number
  command: string
  at: string
}

/** What this server last synced: the document's version, and each file as it was. */
export interface BaseRecord {
  version: number
  /** When this server last found its copy in step with the cluster (the record's mtime). */
  syncedAt: string
  files: Record<string, StateEntry>
}

/** Files bigger than this are blobs (objects of their own, by content). */
const BLOB_BYTES = 256 * 1024

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex')
const same = (a: StateEntry | undefined, b: StateEntry | undefined) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null)

/**
 * The state files on this server, by host path: the site file, the inventory, and under
 * paths.images each image's `current`, `.last-revision` and revisions' manifest.json; under the
 * tftp root the published kernels and initrds (pxeroot/IMAGE/N/vmlinuz, initrd.img).
 */
export async function localState(root: Root, site: Pick<SiteModel, 'paths'>): Promise<Map<string, StateEntry>> {
  const out = new Map<string, StateEntry>()
  const add = async (hostPath: string) => {
    const disk = root.resolve(hostPath)
    const st = await fs.lstat(disk).catch(() => undefined)
    if (!st) return
    if (st.isSymbolicLink()) out.set(hostPath, {link: await fs.readlink(disk)})
    else if (st.isFile()) {
      const data = await fs.readFile(disk)
      out.set(hostPath, st.size > BLOB_BYTES || data.includes(0) ? {blob: sha256(data), size: st.size} : {text: data.toString('utf8')})
    }
  }
  await add(STATE.siteFile)
  await add(STATE.inventoryFile)
  // Each rbd node's cephx secret (storage/rbd.ts keeps them here): every server renders its boot
  // entries, whichever server cloned it. The cluster's admin can read them there anyway.
  for (const f of await fs.readdir(root.resolve(NODE_KEYS)).catch(() => [] as string[])) await add(path.posix.join(NODE_KEYS, f))
  const dirs = async (dir: string) => (await fs.readdir(root.resolve(dir), {withFileTypes: true}).catch(() => [])).filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name)
  for (const image of await dirs(site.paths.images)) {
    const at = (...p: string[]) => path.posix.join(site.paths.images, image, ...p)
    await add(at('current'))
    await add(at('.last-revision'))
    for (const n of (await dirs(at())).filter((d) => /^\d+$/.test(d))) await add(at(n, 'manifest.json'))
  }
  const published = path.posix.join(site.paths.tftp, 'pxeroot')
  for (const image of await dirs(published)) {
    for (const n of (await dirs(path.posix.join(published, image))).filter((d) => /^\d+$/.test(d))) {
      for (const f of ['vmlinuz', 'initrd.img']) await add(path.posix.join(published, image, n, f))
    }
  }
  return out
}

export async function readBase(root: Root): Promise<BaseRecord | undefined> {
  const file = root.resolve(BASE_RECORD)
  const text = await readIfExists(file)
  if (!text) return undefined
  try {
    const base = JSON.parse(text.toString('utf8')) as Omit<BaseRecord, 'syncedAt'>
    // The last sync is the record's time: a sync that found nothing new only touches it (saveBase).
    return {...base, syncedAt: (await fs.stat(file)).mtime.toISOString()}
  } catch {
    return undefined
  }
}

/** The changes between three states of the files: `ours` (here), `theirs` (the cluster), `base` (both at the last sync). */
export interface Merge {
  /** What this server changed since the base, to push. */
  push: Map<string, StateEntry | undefined>
  /** What the cluster changed since the base, to pull. */
  pull: Map<string, StateEntry | undefined>
  /** Changed on both sides, differently. */
  conflicts: string[]
}

/** Three-way, file by file; pure. */
export function mergeStates(base: Readonly<Record<string, StateEntry>>, ours: ReadonlyMap<string, StateEntry>, theirs: Readonly<Record<string, StateEntry>>): Merge {
  const push = new Map<string, StateEntry | undefined>()
  const pull = new Map<string, StateEntry | undefined>()
  const conflicts: string[] = []
  for (const p of new Set([...Object.keys(base), ...ours.keys(), ...Object.keys(theirs)])) {
    const b = base[p]
    const o = ours.get(p)
    const t = theirs[p]
    const oursChanged = !same(b, o)
    const theirsChanged = !same(b, t)
    if (same(o, t)) continue
    if (oursChanged && theirsChanged) conflicts.push(p)
    else if (oursChanged) push.set(p, o)
    else if (theirsChanged) pull.set(p, t)
  }
  return {push, pull, conflicts: conflicts.sort()}
}

/**
 * The base of a server that never synced (it joins a site the cluster holds): the cluster's copy
 * wins for every file it has, and what only this server has is offered to it.
 */
export function joinBase(ours: ReadonlyMap<string, StateEntry>, theirs: Readonly<Record<string, StateEntry>>): Record<string, StateEntry> {
  return Object.fromEntries([...ours].filter(([p]) => p in theirs))
}

/** A connected session to the site's state, with what it read. */
export class ClusterStore {
  private readonly session: StateSession
  /** The document as last read or written, and its RADOS version. */
  doc: StateDocument = {format: 1, version: 0, files: {}}
  radosVersion = 0
  private locked = false

  constructor(private readonly ctx: Context, readonly cluster: StateCluster, private readonly writer: Omit<Writer, 'at'>) {
    this.session = new StateSession(cluster)
  }

  /** Reads the document (version 0, no files: the cluster holds no site yet). */
  async read(): Promise<StateDocument> {
    const r = await this.session.call<{data: string | null, version: number}>('read', {obj: STATE_OBJECT})
    this.radosVersion = r.version
    // No object yet: the cluster holds no site yet.
    this.doc = !r.data ? {format: 1, version: 0, files: {}} : JSON.parse(Buffer.from(r.data, 'base64').toString('utf8')) as StateDocument
    return this.doc
  }

  /**
   * Takes the cluster-wide lock, or says who holds it (BusyError, exit 5). The holder is named by
   * what it wrote beside the lock when it took it.
   */
  async lock(): Promise<void> {
    const cookie = `${this.writer.host}-${this.writer.pid}-${Date.now()}`
    const desc = JSON.stringify({...this.writer, at: new Date().toISOString()})
    try {
      // The lock needs its object: a site new to the cluster has none yet.
      await this.session.call('lock', {obj: LOCK_OBJECT, name: STATE_LOCK, cookie, desc, duration: LOCK_SECONDS})
    } catch (error) {
      if (error instanceof StateSessionError && error.kind === 'busy') {
        const holder = await this.session.call<string | null>('xattr_get', {obj: LOCK_OBJECT, name: 'pxeroot.holder'}).catch(() => null)
        const h = holder ? JSON.parse(Buffer.from(holder, 'base64').toString('utf8')) as Writer : undefined
        throw new BusyError(`the site is busy: another pxeroot run holds its lock in the cluster${h ? ` (${h.server ?? h.host}, pid ${h.pid}: ${h.command}, since ${h.at})` : ''}; nothing was changed`,
          'wait for it to finish and run the command again')
      }
      throw error
    }
    this.locked = true
    await this.session.call('xattr_set', {obj: LOCK_OBJECT, name: 'pxeroot.holder', value: Buffer.from(desc).toString('base64')})
  }

  /** Writes the document with these files changed, on the version read (compare-and-swap), under the lock. */
  async write(changes: ReadonlyMap<string, StateEntry | undefined>, blobs: ReadonlyMap<string, string>): Promise<void> {
    if (!this.locked) throw new Error('internal: the site state is written under its cluster lock only')
    for (const [sha, disk] of blobs) {
      if (!await this.session.call<boolean>('exists', {obj: blobObject(sha)})) await this.session.call('put_file', {obj: blobObject(sha), path: disk})
    }
    const files = {...this.doc.files}
    for (const [p, entry] of changes) {
      if (entry === undefined) delete files[p]
      else files[p] = entry
    }
    const doc: StateDocument = {format: 1, version: this.doc.version + 1, writer: {...this.writer, at: new Date().toISOString()}, files}
    try {
      const r = await this.session.call<{version: number}>('write', {obj: STATE_OBJECT, lock: [LOCK_OBJECT, STATE_LOCK], data: Buffer.from(JSON.stringify(doc)).toString('base64'), version: this.radosVersion})
      this.radosVersion = r.version
      this.doc = doc
    } catch (error) {
      if (error instanceof StateSessionError && (error.kind === 'changed' || error.kind === 'lost')) {
        throw new BusyError(`the site changed in the cluster while this run held its lock (${error.message}); nothing of this run's changes was stored there`, 'run the command again')
      }
      throw error
    }
  }

  /** A blob's bytes into a file (atomically: a temp beside it, then renamed). */
  async fetchBlob(sha: string, disk: string): Promise<void> {
    await this.ctx.files.mkdir(path.dirname(disk))
    const temp = tempNameFor(disk)
    if (!await this.session.call<boolean>('get_file', {obj: blobObject(sha), path: temp})) throw new PxerootError(`the cluster has no blob ${sha} for ${disk}`)
    await this.ctx.files.chmod(temp, 0o644)
    await this.ctx.files.rename(temp, disk)
  }

  async close(): Promise<void> {
    this.locked = false
    await this.session.close()
  }
}

/** Where an rbd site keeps its nodes' cephx secrets (storage/rbd.ts RBD_KEYS_DIR; config may not import storage). */
const NODE_KEYS = path.posix.join(STATE.stateDir, 'rbd-keys')

/**
 * Where a site keeps its state: in its Ceph pool when its storage is RBD (storage.rbd: the pool,
 * ceph.conf, cephx id, and in the lab the namespace the cluster is reached from), in a RADOS
 * namespace of its own; undefined for a site on local storage, whose state stays in its files.
 */
export function clusterOf(root: Root, site: SiteModel): StateCluster | undefined {
  const {storage} = site
  if (storage.backend !== 'rbd' || !storage.rbd) return undefined
  const {rbd} = storage
  return {conf: root.resolve(rbd.cephConf), id: rbd.id, pool: rbd.pool, namespace: STATE_NAMESPACE, ...(rbd.netns ? {netns: rbd.netns} : {})}
}

/** Roots whose copy this process brought up to the cluster's already (a changing command's sync; a read's refresh). */
const synced = new Set<string>()
export const wasSynced = (root: Root) => synced.has(root.prefix)
export const markSynced = (root: Root) => synced.add(root.prefix)

/** The writer of this run, as the lock and the document name it. */
export function writerOf(command: string, server?: string): Omit<Writer, 'at'> {
  return {...(server ? {server} : {}), host: os.hostname(), pid: process.pid, command}
}

/** A cluster that did not answer: this server changes nothing without it. A full pool answers, but takes no write. */
export function unreachable(error: StateSessionError, cluster: StateCluster): PxerootError {
  if (error.kind === 'full') {
    return new NoSpaceError(`pool ${cluster.pool} is full (flagged ${error.message}): pxeroot changes nothing on a full pool, not even to free room (Ceph holds its writes, a removal's too); nothing was changed`,
      `give it room first (raise its quota: ceph osd pool set-quota ${cluster.pool} max_bytes BYTES, or add OSDs), then free what you want back (pxeroot nodes prune, nodes rm, image prune)`)
  }
  return new PreconditionError(`the Ceph cluster that holds the site's state did not answer (${error.message}); this server changes nothing without it`,
    `check that the cluster is up and reachable from here ("ceph -s" with ${cluster.conf}), then run the command again`)
}

/** Writes the pulled files into this server's copy (atomic each); a removed one is removed. */
export async function applyPulled(ctx: Context, store: ClusterStore, pull: ReadonlyMap<string, StateEntry | undefined>): Promise<void> {
  for (const [p, entry] of pull) {
    const disk = ctx.root.resolve(p)
    if (entry === undefined) await ctx.files.remove(disk)
    else if ('text' in entry) await ctx.files.write(disk, entry.text, {mode: p.startsWith(`${NODE_KEYS}/`) ? 0o600 : 0o644})
    else if ('link' in entry) {
      await ctx.files.mkdir(path.dirname(disk))
      await ctx.files.symlink(entry.link, disk)
    } else await store.fetchBlob(entry.blob, disk)
  }
}

/** Records what this server's copy now mirrors. */
export async function saveBase(ctx: Context, store: ClusterStore): Promise<void> {
  const file = ctx.root.resolve(BASE_RECORD)
  const text = JSON.stringify({version: store.doc.version, files: store.doc.files}) + '\n'
  // Nothing new: only the time of the sync changes, so a refused or read-only command leaves the
  // copy's content as it was.
  if ((await readIfExists(file))?.toString('utf8') === text) {
    const now = new Date()
    await ctx.files.setTimes(file, now, now)
    return
  }
  await ctx.files.write(file, text, {mode: 0o644})
}

/**
 * Runs `fn` holding the site's cluster-wide lock, on this server's copy brought up to the
 * cluster's (a conflict with changes a killed run left here is refused), then stores what `fn`
 * changed as one compare-and-swap. A cluster that does not answer refuses the whole command
 * (exit 3) before `fn` runs; another holder of the lock makes it busy (exit 5).
 */
export async function withClusterLock<T>(ctx: Context, site: Pick<SiteModel, 'paths' | 'self'>, cluster: StateCluster, command: string, fn: () => Promise<T>): Promise<T> {
  const store = new ClusterStore(ctx, cluster, writerOf(command, site.self ?? ctx.server))
  try {
    try {
      await store.lock()
      await store.read()
    } catch (error) {
      if (error instanceof StateSessionError) throw unreachable(error, cluster)
      throw error
    }
    await sync(ctx, store, site)
    markSynced(ctx.root)
    const result = await fn()
    await push(ctx, store, site)
    return result
  } finally {
    await store.close()
  }
}

/** This server's copy brought up to the cluster's document (already read); its own unpushed changes kept. */
async function sync(ctx: Context, store: ClusterStore, site: Pick<SiteModel, 'paths'>): Promise<void> {
  const ours = await localState(ctx.root, site)
  const base = (await readBase(ctx.root))?.files ?? joinBase(ours, store.doc.files)
  const merge = mergeStates(base, ours, store.doc.files)
  if (merge.conflicts.length > 0) {
    throw new PreconditionError(`this server's copy of the site state and the cluster's both changed since they were last in step: ${merge.conflicts.join(', ')}; nothing was changed`,
      `keep the cluster's: remove those files here and run the command again (or copy yours back over afterwards)`)
  }
  await applyPulled(ctx, store, merge.pull)
  await saveBase(ctx, store)
}

/** Stores what changed here since the last sync, as one compare-and-swap of the document. */
async function push(ctx: Context, store: ClusterStore, site: Pick<SiteModel, 'paths'>): Promise<void> {
  const merge = mergeStates(store.doc.files, await localState(ctx.root, site), store.doc.files)
  if (merge.push.size === 0) return
  const blobs = new Map<string, string>()
  for (const [p, entry] of merge.push) if (entry && 'blob' in entry) blobs.set(entry.blob, ctx.root.resolve(p))
  await store.write(merge.push, blobs)
  await saveBase(ctx, store)
}
