import {setTimeout as sleep} from 'node:timers/promises'

import {ExternalCommandError} from '../errors.js'

/** Messages debootstrap and apt print when the mirror, DNS or the network let them down. */
const NETWORK = /Temporary failure resolving|Could not resolve|Failed to fetch|Failed getting release|Couldn't download|Couldn't get release|Connection (refused|timed out|reset|failed)|Unable to connect|Hash Sum mismatch|Bad Gateway|Service Unavailable|Some index files failed|File has unexpected size|Network is unreachable|No route to host|Could not connect/i

export function isNetworkError(error: unknown): boolean {
  return error instanceof ExternalCommandError && NETWORK.test(`${error.stderrTail}\n${error.message}`)
}

export interface RetryOptions {
  attempts?: number
  /** Delays before the 2nd, 3rd... attempt (ms); the last one repeats. */
  delays?: number[]
  signal?: AbortSignal
  log?: (line: string) => void
  /** Runs between attempts (e.g. to empty a half-written target). */
  beforeRetry?: () => Promise<void>
}

/** Runs `fn`, retrying a bounded number of times, with back-off, only on network errors. */
export async function withNetworkRetry<T>(what: string, fn: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = options.attempts ?? 3
  const delays = options.delays ?? [5000, 20_000]
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn()
    } catch (error) {
      if (attempt >= attempts || !isNetworkError(error) || options.signal?.aborted) throw error
      const delay = delays[Math.min(attempt - 1, delays.length - 1)]
      options.log?.(`${what}: network error, retrying in ${Math.round(delay / 1000)} s (attempt ${attempt + 1} of ${attempts})`)
      await sleep(delay, undefined, {signal: options.signal})
      await options.beforeRetry?.()
    }
  }
}
