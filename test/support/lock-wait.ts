import {setTimeout as sleep} from 'node:timers/promises'

import {BusyError} from '../../src/errors.js'
import {withLock} from '../../src/system/lock.js'

/** Runs fn under a lock file, waiting (polling every pollMs, up to waitMs) while another process holds it: shared fixtures built once. */
export async function underLockWaiting<T>(file: string, what: string, limits: {waitMs: number, pollMs: number}, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + limits.waitMs
  for (;;) {
    try {
      return await withLock(file, what, fn)
    } catch (error) {
      if (!(error instanceof BusyError) || Date.now() > deadline) throw error
      await sleep(limits.pollMs)
    }
  }
}
