import {randomBytes} from 'node:crypto'
import {constants, promises as fs} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {UserError} from '../errors.js'

export async function readIfExists(file: string): Promise<Buffer | undefined> {
  try {
    return await fs.readFile(file)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
}

export async function exists(file: string): Promise<boolean> {
  try {
    await fs.lstat(file)
    return true
  } catch {
    return false
  }
}

/** The regular files under dir, recursively, without following symbolic links (a tree's links may point anywhere). */
export async function filesUnder(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, {withFileTypes: true}).catch(() => [])
  const out: string[] = []
  for (const e of entries) {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) out.push(...await filesUnder(p))
    else if (e.isFile()) out.push(p)
  }
  return out
}

export async function isDirectory(p: string): Promise<boolean> {
  return fs.lstat(p).then((s) => s.isDirectory(), () => false)
}

/** A temporary name in the same directory as `file`, starting with "." so that readers of drop-in
 * directories (exportfs reads only *.exports, dhcpd only what is included) never pick it up. */
export function tempNameFor(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.pxeroot-${randomBytes(4).toString('hex')}`)
}

const TEMP_SUFFIX = /^\.(.+)\.pxeroot-[0-9a-f]{8}$/

/** The name of the file a temp name from tempNameFor stands for, if `name` is one. */
export function tempBaseOf(name: string): string | undefined {
  return TEMP_SUFFIX.exec(name)?.[1]
}

/** The temp files (see tempNameFor) that a run killed between writing and renaming left beside
 * any of `files`; one directory read per directory. */
export async function staleTempsOf(files: readonly string[]): Promise<string[]> {
  const byDir = new Map<string, Set<string>>()
  for (const f of files) {
    const names = byDir.get(path.dirname(f)) ?? new Set<string>()
    names.add(path.basename(f))
    byDir.set(path.dirname(f), names)
  }
  const found: string[] = []
  for (const [dir, names] of byDir) {
    for (const entry of await fs.readdir(dir, {withFileTypes: true}).catch(() => [])) {
      const base = tempBaseOf(entry.name)
      if (base !== undefined && names.has(base) && entry.isFile()) found.push(path.join(dir, entry.name))
    }
  }
  return found
}

export interface WriteOptions {
  /** Mode for a new file; an existing file keeps its mode and owner unless forceMode. */
  mode?: number
  /** Apply `mode` even over an existing file's mode (files that must stay world-readable). */
  forceMode?: boolean
  /** A tree the file must stay inside, whoever else writes there (a node root: the node is root
   * over NFS and may plant symlinks). No directory component below it may be a symlink, missing
   * ones are created 0755, and the file is owned by root. */
  within?: string
  /** fsync the data and the directory (default). Off for many small files of one larger step
   * whose result is published by a rename anyway (a clone's identity files). */
  sync?: boolean
}

/**
 * Checks that every directory component between `root` and `target`'s parent is a real
 * directory (creating missing ones 0755 when asked); a symlink or a file there is refused.
 */
export async function checkParents(root: string, target: string, create: boolean): Promise<void> {
  const rel = path.relative(root, path.dirname(target))
  if (rel.startsWith('..') || path.isAbsolute(rel)) throw new Error(`internal: ${target} is outside ${root}`)
  let dir = root
  for (const part of rel.split(path.sep).filter(Boolean)) {
    dir = path.join(dir, part)
    let st = await fs.lstat(dir).catch(() => undefined)
    if (!st) {
      if (!create) return
      const made = await fs.mkdir(dir, {mode: 0o755}).then(() => true, (error: NodeJS.ErrnoException) => {
        // Another write of the same step made it meanwhile: checked below like any other.
        if (error.code === 'EEXIST') return false
        throw error
      })
      if (made) continue
      st = await fs.lstat(dir)
    }
    if (st.isSymbolicLink() || !st.isDirectory()) {
      throw new UserError(`${dir} is ${st.isSymbolicLink() ? 'a symlink' : 'not a directory'}; pxeroot does not follow links inside a node root`, 'restore it as a directory in the node root')
    }
  }
}

/**
 * The one way pxeroot writes a file: a temp file in the same directory (created exclusively,
 * never through a link), fsync, rename over the target, fsync the directory. Readers see the
 * old bytes or the new bytes, never a half-written file.
 */
export async function writeFileAtomic(file: string, data: string | Buffer, options: WriteOptions = {}): Promise<void> {
  if (options.within) await checkParents(options.within, file, true)
  else await fs.mkdir(path.dirname(file), {recursive: true})
  const previous = options.within ? undefined : await fs.stat(file).catch(() => undefined)
  const mode = ((options.forceMode ? undefined : previous?.mode) ?? options.mode ?? 0o644) & 0o7777
  const sync = options.sync ?? true
  const temp = tempNameFor(file)
  const handle = await fs.open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode)
  try {
    await handle.writeFile(data)
    await handle.chmod(mode)
    if (options.within) await handle.chown(0, 0).catch(() => undefined)
    else if (previous) await handle.chown(previous.uid, previous.gid).catch(() => undefined)
    if (sync) await handle.sync()
  } catch (error) {
    await handle.close()
    await fs.rm(temp, {force: true})
    throw error
  }
  await handle.close()
  try {
    await fs.rename(temp, file)
  } catch (error) {
    await fs.rm(temp, {force: true})
    throw error
  }
  if (sync) await syncDir(path.dirname(file))
}

export async function syncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r').catch(() => undefined)
  if (!handle) return
  try {
    await handle.sync()
  } catch {
    // Some filesystems refuse fsync on a directory; the rename is still atomic there.
  } finally {
    await handle.close()
  }
}

/** A private directory for one run's scratch files (candidates for a checker, a lab run's logs). */
export interface TempDir {
  readonly path: string
  /** The path of a file in it. */
  file(name: string): string
  /** Writes a file in it (parents created) and returns its path. */
  write(name: string, data: string | Buffer, mode?: number): Promise<string>
  mkdir(name: string, mode?: number): Promise<string>
  /** Removes the directory and everything in it; safe to call twice. */
  remove(): Promise<void>
}

/**
 * The filesystem primitives every module outside system/ writes through (Context.files), so
 * that tests can replace them (a disk that fills up half-way, a rename that fails).
 */
export interface Files {
  /** Atomic replace; see writeFileAtomic. */
  write(file: string, data: string | Buffer, options?: WriteOptions): Promise<void>
  /** Copies a regular file's bytes to `to` (atomically), with `mode`. */
  copy(from: string, to: string, mode?: number): Promise<void>
  /** Removes a file or a symlink (not a directory tree: see system/trees.ts); absent is fine. */
  remove(file: string): Promise<void>
  /** Removes an empty directory; absent is fine. */
  removeEmptyDir(dir: string): Promise<void>
  rename(from: string, to: string): Promise<void>
  /** Creates a directory and its missing parents. */
  mkdir(dir: string, mode?: number): Promise<void>
  chmod(file: string, mode: number): Promise<void>
  /** Points `file` at `target`, replacing whatever is there in one rename. */
  symlink(target: string, file: string, options?: {within?: string}): Promise<void>
  /** Sets a path's times without following a symlink. */
  setTimes(file: string, atime: Date, mtime: Date): Promise<void>
  /** Makes a directory's renames durable. */
  syncDir(dir: string): Promise<void>
  /** A fresh private directory under the OS temp dir. */
  tempDir(prefix: string): Promise<TempDir>
}

async function makeTempDir(prefix: string): Promise<TempDir> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix))
  const inside = (name: string) => {
    const p = path.join(dir, name)
    if (path.relative(dir, p).startsWith('..')) throw new Error(`internal: ${name} is outside ${dir}`)
    return p
  }
  return {
    path: dir,
    file: inside,
    async write(name, data, mode = 0o644) {
      const p = inside(name)
      await fs.mkdir(path.dirname(p), {recursive: true})
      await fs.writeFile(p, data, {mode})
      await fs.chmod(p, mode)
      return p
    },
    async mkdir(name, mode = 0o755) {
      const p = inside(name)
      await fs.mkdir(p, {recursive: true, mode})
      return p
    },
    remove: () => fs.rm(dir, {recursive: true, force: true}),
  }
}

export const hostFiles: Files = {
  write: writeFileAtomic,
  async copy(from, to, mode = 0o644) {
    await writeFileAtomic(to, await fs.readFile(from), {mode, forceMode: true})
  },
  remove: (file) => fs.rm(file, {force: true}),
  async removeEmptyDir(dir) {
    await fs.rmdir(dir).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error
    })
  },
  rename: (from, to) => fs.rename(from, to),
  async mkdir(dir, mode = 0o755) {
    await fs.mkdir(dir, {recursive: true, mode})
  },
  chmod: (file, mode) => fs.chmod(file, mode),
  async symlink(target, file, options = {}) {
    if (options.within) await checkParents(options.within, file, true)
    const temp = tempNameFor(file)
    await fs.symlink(target, temp)
    if (options.within) await fs.lchown(temp, 0, 0).catch(() => undefined)
    try {
      // rename(2) replaces a file or a symlink; a directory in the way is not replaced silently.
      await fs.rename(temp, file)
    } catch (error) {
      await fs.rm(temp, {force: true})
      throw error
    }
  },
  setTimes: (file, atime, mtime) => fs.lutimes(file, atime, mtime),
  syncDir,
  tempDir: makeTempDir,
}

/** Runs fn with a temp dir that is removed afterwards, whatever happens. */
export async function withTempDir<T>(files: Files, prefix: string, fn: (dir: TempDir) => Promise<T>): Promise<T> {
  const dir = await files.tempDir(prefix)
  try {
    return await fn(dir)
  } finally {
    await dir.remove()
  }
}
