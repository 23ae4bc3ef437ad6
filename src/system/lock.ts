import {promises as fs} from 'node:fs'
import path from 'node:path'

import {BusyError} from '../errors.js'
import {isAlive} from './processes.js'

export interface Lock {
  release(): Promise<void>
}

/**
 * A non-blocking lock file holding the owner's PID. A lock whose owner is gone (killed with
 * SIGKILL, power loss) is stale and taken over; a live owner makes the caller exit "busy".
 * Directories the lock had to create are removed again on release when nothing else was put in
 * them, so a refused command on a fresh root leaves no empty /var/lib/pxeroot behind.
 */
export async function acquireLock(file: string, what = 'pxeroot'): Promise<Lock> {
  const created = await fs.mkdir(path.dirname(file), {recursive: true})
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      // The lock appears with its owner already in it (a temp file linked into place): a run that
      // finds it never sees an empty file it would take for a stale one.
      const temp = `${file}.${process.pid}.${Math.random().toString(16).slice(2)}`
      await fs.writeFile(temp, `${process.pid}\n`, {mode: 0o644})
      try {
        await fs.link(temp, file)
      } finally {
        await fs.rm(temp, {force: true})
      }
      let released = false
      return {
        async release() {
          if (released) return
          released = true
          const owner = await fs.readFile(file, 'utf8').catch(() => '')
          if (Number.parseInt(owner, 10) === process.pid) await fs.rm(file, {force: true})
          if (created) await removeEmptyUpTo(path.dirname(file), created)
        },
      }
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      // Another run's release removed the directory between our mkdir and open: make it again.
      if (code === 'ENOENT') {
        await fs.mkdir(path.dirname(file), {recursive: true})
        continue
      }
      if (code !== 'EEXIST') throw error
      const owner = Number.parseInt(await fs.readFile(file, 'utf8').catch(() => ''), 10)
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) {
        throw new BusyError(`${what} is busy: another pxeroot run (pid ${owner}) holds ${file}`, 'wait for it to finish and run the command again')
      }
      if (owner === process.pid) throw new BusyError(`${what} is already locked by this process`)
      // Stale: its owner is gone. Remove it and try again.
      await fs.rm(file, {force: true})
    }
  }
  throw new BusyError(`${what} is busy: could not take ${file}`)
}

/** Removes `dir` and its parents up to `top` (inclusive) while they are empty; stops at the first that is not. */
async function removeEmptyUpTo(dir: string, top: string): Promise<void> {
  for (let d = dir; ; d = path.dirname(d)) {
    const removed = await fs.rmdir(d).then(() => true, () => false)
    if (!removed || d === top || path.dirname(d) === d) return
  }
}

export async function withLock<T>(file: string, what: string, fn: () => Promise<T>): Promise<T> {
  const lock = await acquireLock(file, what)
  try {
    return await fn()
  } finally {
    await lock.release()
  }
}
