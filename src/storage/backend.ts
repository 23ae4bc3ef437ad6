import {type RevisionRef} from './names.js'

/**
 * The storage seam: where image revisions and node roots live, and what a node's boot
 * configuration must say to reach its root. A site has one backend (`storage.backend` in the
 * site file): `local` keeps trees on the server's own filesystem (directories, btrfs subvolumes,
 * reflinks or copies: local.ts), `rbd` keeps them in a Ceph pool (rbd.ts). A third (ZFS datasets,
 * LVM thin volumes) is one module implementing StorageBackend plus its line in registry.ts.
 *
 * What every backend shares stays outside the seam: revision metadata (manifest.json, `current`,
 * the revision counter, kernels and initrds published to the tftp root) under paths.images, the
 * journal of root switches under paths.nodes (src/clone/journal.ts), and what goes into a root
 * (identity, node-local state, known_hosts: src/clone/), which works on a directory the backend
 * opens. Roots are named as entries of paths.nodes (names.ts): NODE, NODE.previous and temp
 * names; a backend maps them to what it keeps.
 *
 * A backend is bound to one run's context and site (registry.ts: withStorage), and `close` ends
 * whatever it started for the run (attachments, helper processes).
 */

/** How roots are cloned; recorded per node in the inventory (`clone.method`). */
export const CLONE_METHODS = ['btrfs', 'reflink', 'copy', 'rsync', 'rbd'] as const
export type CloneMethod = typeof CLONE_METHODS[number]

export interface MethodChoice {
  method: CloneMethod
  /** Why this method, in the admin's words (printed with the result). */
  reason: string
}

/** How a revision's tree is kept (manifest.json `storage`). */
export type RevisionStorage = 'btrfs' | 'directory' | 'rbd'

/** A tree being built or changed: `dir` is removed whole if it is never promoted. */
export interface Staging {
  image: string
  /** Beside the revisions (paths.images/NAME/.staging-*); renamed to NAME/N when promoted. */
  dir: string
  /** The root filesystem tree, a writable directory (a subvolume on btrfs). */
  work: string
  btrfs: boolean
}

/** A root opened for reading or writing its files. */
export interface OpenRoot {
  /** Its tree on this server. */
  dir: string
  /** Releases what opening it took (mounts, attachments); safe to call twice. */
  close(): Promise<void>
}

/** What the boot configuration must say for a node to reach its root. */
export type RootBoot =
  /** Mounted over NFS from this server: exported at `path` (host path). */
  | {kind: 'nfs', path: string}
  /** Mapped by the node's own kernel from the cluster (src/boot/rbd-root.ts renders it). */
  | {kind: 'rbd', monitors: readonly string[], pool: string, namespace: string, image: string, user: string, secret?: string}

export interface RootSize {
  /** Bytes only this root holds: what removing it would free. */
  exclusive: number
  /** How the number was obtained; "allocated" counts extents shared with other roots too. */
  kind: 'exclusive' | 'allocated'
  /** Where it was measured: a filesystem type, or "rbd". */
  fsType: string
}

/** One line of doctor about the storage. */
export interface StorageCheck {
  check: string
  status: 'ok' | 'warn' | 'fail'
  message: string
  fix?: string
}

export interface SpaceCheck {
  needed: number
  free: number
  /** The source has sparse files; rsync then keeps holes at some cost. */
  sparse: boolean
}

export interface StorageBackend {
  /** Its name in the site file (storage.backend). */
  readonly kind: string

  // --- Revisions (metadata: src/images/store.ts) ---
  /** An empty, writable tree to build a revision in. */
  createStaging(image: string): Promise<Staging>
  /** A writable working tree of a revision (image update, exec, shell). */
  workingCopy(ref: RevisionRef): Promise<Staging>
  /** Empties a staging tree's work tree (a bootstrap that is tried again). */
  resetWork(staging: Staging): Promise<void>
  discardStaging(staging: Staging): Promise<void>
  /** Disk the working copy of a revision of `treeBytes` takes on this server. */
  workingCopyBytes(ref: RevisionRef, treeBytes: number): Promise<number>
  /**
   * Makes the finished work tree the content of revision `ref`, inside staging.dir; the caller
   * then writes the manifest and renames staging.dir into place (the commit). What this made is
   * removed by `removeStaleRevisions` when that rename never happens.
   */
  sealRevision(staging: Staging, ref: RevisionRef): Promise<RevisionStorage>
  /** Runs `fn` on a read-only view of the revision's tree, a directory named `rootfs`. */
  withRevisionTree<T>(ref: RevisionRef, fn: (tree: string) => Promise<T>): Promise<T>
  /** Whether the revision's tree is where this backend keeps it (read from this server only). */
  revisionExists(ref: RevisionRef): Promise<boolean>
  /** Roots that depend on the revision and keep it from being removed ("node01", "node02.previous"). */
  revisionDependents(ref: RevisionRef): Promise<string[]>
  /** Deletes the revision's tree (its metadata is the caller's). */
  removeRevision(ref: RevisionRef): Promise<void>
  /** Removes trees a killed run made for revisions of `image` that were never promoted. */
  removeStaleRevisions(image: string, promoted: readonly number[]): Promise<string[]>

  // --- Roots (lifecycle: src/clone/) ---
  /** The cheapest clone of `source` that keeps everything; `forced` as given by --method. */
  chooseMethod(source: RevisionRef, forced?: CloneMethod): Promise<MethodChoice>
  /** Refuses (exit 2, nothing created) when `n` clones would not fit. */
  checkCloneSpace(source: RevisionRef, method: CloneMethod, n: number, what: string): Promise<SpaceCheck>
  /** Clones run at once for this method. */
  cloneConcurrency(method: CloneMethod, configured: number): number
  /** Every root entry there is (node names, NAME.previous, temp names). */
  listRoots(): Promise<Set<string>>
  rootExists(name: string): Promise<boolean>
  /** Creates root `name` (which must not exist) as a clone of the revision. */
  cloneRoot(source: RevisionRef, name: string, options: {method: CloneMethod, sparse: boolean}): Promise<void>
  /**
   * Opens a root's tree on this server. For writing only while its node is down (or when
   * `rootsShared`); for reading at any time: what the node has synced, as the backend can show it
   * without disturbing the node (rbd: a private copy-on-write view, discarded on close).
   */
  openRoot(name: string, options: {write: boolean}): Promise<OpenRoot>
  /** Whether a root's files can be written while its node runs (an NFS root can; a root the node maps itself cannot). */
  readonly rootsShared: boolean
  /** Renames a root entry (the journal's step); the target must not exist. */
  renameRoot(from: string, to: string): Promise<void>
  /** Deletes a root entry; absent is not an error. */
  removeRoot(name: string): Promise<void>
  /** Deletes what killed runs left beside the roots; returns the names removed. */
  removeLeftovers(): Promise<string[]>
  /** Deletes everything a node had in storage (its root, previous root, and what the backend kept for it). */
  removeNode(node: string): Promise<string[]>
  /** Evidence that the node's root is in use right now, as this backend sees it (none for NFS roots: src/clone/in-use.ts reads the NFS server's state). */
  rootInUse(node: string): Promise<string[]>
  /** Sizes of the named roots that can be had cheaply; `measure` also walks what cannot (seconds per root). */
  rootSizes(names: readonly string[], options: {measure: boolean}): Promise<Map<string, RootSize>>

  // --- Health (doctor) ---
  /** What doctor reports of this storage for these nodes (none: nothing beyond the node roots check). */
  check?(nodes: readonly {name: string, image?: string}[]): Promise<StorageCheck[]>

  // --- Boot ---
  /** What each node's boot entry must say to reach its root. */
  rootBoot(nodes: readonly string[]): Promise<Map<string, RootBoot>>

  /** Ends what the backend started for this run. */
  close(): Promise<void>
}
