import {constants, promises as fs} from 'node:fs'
import path from 'node:path'

import {checkParents, type Files} from './files.js'

/**
 * Paths inside a node root. A node's root is written by the node itself (as root, over NFS with
 * no_root_squash), so any component may be a symlink planted to point at the server's own
 * files. Everything pxeroot reads or writes inside a root goes through here and refuses to
 * follow a symlink in any directory component; final components are replaced, never followed.
 */
export function rootPath(nodeRoot: string, inside: string): string {
  const rel = path.posix.normalize(inside).replace(/^\/+/, '')
  if (rel === '' || rel.split('/').includes('..')) throw new Error(`internal: bad path inside a root: ${inside}`)
  return path.join(nodeRoot, rel)
}

/** Checks that every directory component between the root and `inside` is a real directory
 * (creating missing ones with mode 0755 when asked). Returns the on-disk path. */
export async function safeParent(nodeRoot: string, inside: string, create = false): Promise<string> {
  const target = rootPath(nodeRoot, inside)
  await checkParents(nodeRoot, target, create)
  return target
}

/** Replaces whatever is at `inside` (file, symlink) with a regular file owned by root; never writes through a link. */
export async function writeInRoot(files: Files, nodeRoot: string, inside: string, data: string, mode = 0o644): Promise<void> {
  // The identity files of a clone are many and small; the clone is published by a rename anyway.
  await files.write(rootPath(nodeRoot, inside), data, {mode, forceMode: true, within: nodeRoot, sync: false})
}

/** Replaces whatever is at `inside` with a symlink; a directory planted there goes first. */
export async function symlinkInRoot(files: Files, nodeRoot: string, inside: string, linkTarget: string): Promise<void> {
  const target = await safeParent(nodeRoot, inside, true)
  const st = await fs.lstat(target).catch(() => undefined)
  if (st?.isDirectory()) await fs.rm(target, {recursive: true, force: true})
  await files.symlink(linkTarget, target, {within: nodeRoot})
}

/** Removes every entry of a directory inside a root whose name passes `test` (files or links). */
export async function removeInRoot(files: Files, nodeRoot: string, insideDir: string, test: (name: string) => boolean): Promise<string[]> {
  const dir = path.dirname(await safeParent(nodeRoot, path.posix.join(insideDir, 'x'), true))
  const removed: string[] = []
  for (const name of await fs.readdir(dir)) {
    if (!test(name)) continue
    const p = path.join(dir, name)
    if ((await fs.lstat(p)).isDirectory()) await fs.rm(p, {recursive: true, force: true})
    else await files.remove(p)
    removed.push(name)
  }
  return removed
}

/** Reads a small regular file inside a root; undefined when absent, a link, or not a regular file. */
export async function readInRoot(nodeRoot: string, inside: string): Promise<string | undefined> {
  let target: string
  try {
    target = await safeParent(nodeRoot, inside)
  } catch {
    return undefined
  }
  const handle = await fs.open(target, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(() => undefined)
  if (!handle) return undefined
  try {
    const st = await handle.stat()
    if (!st.isFile() || st.size > 1 << 20) return undefined
    return await handle.readFile('utf8')
  } finally {
    await handle.close()
  }
}
