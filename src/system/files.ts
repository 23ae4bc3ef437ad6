import {randomBytes} from 'node:crypto'
import {promises as fs} from 'node:fs'
import path from 'node:path'

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

/** A temporary name in the same directory as `file`, starting with "." so that readers of drop-in
 * directories (exportfs reads only *.exports, dhcpd only what is included) never pick it up. */
export function tempNameFor(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.pxeroot-${randomBytes(4).toString('hex')}`)
}

export interface WriteOptions {
  /** Mode for a new file; an existing file keeps its mode and owner unless forceMode. */
  mode?: number
  /** Apply `mode` even over an existing file's mode (files that must stay world-readable). */
  forceMode?: boolean
}

/**
 * Writes a file atomically: a temp file in the same directory, fsync, rename over the target,
 * fsync the directory. Readers see the old bytes or the new bytes, never a half-written file.
 */
export async function writeFileAtomic(file: string, data: string | Buffer, options: WriteOptions = {}): Promise<void> {
  await fs.mkdir(path.dirname(file), {recursive: true})
  const previous = await fs.stat(file).catch(() => undefined)
  const mode = ((options.forceMode ? undefined : previous?.mode) ?? options.mode ?? 0o644) & 0o7777
  const temp = tempNameFor(file)
  const handle = await fs.open(temp, 'wx', mode)
  try {
    await handle.writeFile(data)
    await handle.chmod(mode)
    if (previous) await handle.chown(previous.uid, previous.gid).catch(() => undefined)
    await handle.sync()
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
  await syncDir(path.dirname(file))
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
