import {constants, promises as fs} from 'node:fs'
import path from 'node:path'

import {UserError} from '../errors.js'

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
  const parts = path.relative(nodeRoot, path.dirname(target)).split(path.sep).filter(Boolean)
  let dir = nodeRoot
  for (const part of parts) {
    dir = path.join(dir, part)
    const st = await fs.lstat(dir).catch(() => undefined)
    if (!st) {
      if (!create) return target
      await fs.mkdir(dir, {mode: 0o755})
      continue
    }
    if (st.isSymbolicLink() || !st.isDirectory()) {
      throw new UserError(`${dir} is ${st.isSymbolicLink() ? 'a symlink' : 'not a directory'}; pxeroot does not follow links inside a node root`, 'restore it as a directory in the node root')
    }
  }
  return target
}

/** Replaces whatever is at `inside` (file, symlink) with a regular file; never writes through a link. */
export async function writeInRoot(nodeRoot: string, inside: string, data: string, mode = 0o644): Promise<void> {
  const target = await safeParent(nodeRoot, inside, true)
  const temp = path.join(path.dirname(target), `.${path.basename(target)}.pxeroot-new`)
  await fs.rm(temp, {force: true})
  const handle = await fs.open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode)
  try {
    await handle.writeFile(data)
    await handle.chmod(mode)
    await handle.chown(0, 0).catch(() => undefined)
  } finally {
    await handle.close()
  }
  await fs.rename(temp, target)
}

export async function symlinkInRoot(nodeRoot: string, inside: string, linkTarget: string): Promise<void> {
  const target = await safeParent(nodeRoot, inside, true)
  await fs.rm(target, {force: true, recursive: false}).catch(async (error: NodeJS.ErrnoException) => {
    if (error.code === 'EISDIR' || error.code === 'ERR_FS_EISDIR') await fs.rm(target, {recursive: true, force: true})
    else throw error
  })
  await fs.symlink(linkTarget, target)
  await fs.lchown(target, 0, 0).catch(() => undefined)
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
