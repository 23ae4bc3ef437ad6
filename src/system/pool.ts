/** Runs `fn` over `items` with at most `limit` in flight; results keep the input order. Every item
 * runs even when some fail, so one bad item never abandons the others half-way. */
export async function mapBounded<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<PromiseSettledResult<R>[]> {
  const results: PromiseSettledResult<R>[] = new Array(items.length)
  let next = 0
  async function worker(): Promise<void> {
    while (next < items.length) {
      const i = next++
      try {
        results[i] = {status: 'fulfilled', value: await fn(items[i], i)}
      } catch (error) {
        results[i] = {status: 'rejected', reason: error}
      }
    }
  }
  await Promise.all(Array.from({length: Math.max(1, Math.min(limit, items.length))}, worker))
  return results
}

/** The values of settled results, or the first failure thrown once all have finished. */
export function settled<R>(results: readonly PromiseSettledResult<R>[]): R[] {
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
  if (failed) throw failed.reason
  return results.map((r) => (r as PromiseFulfilledResult<R>).value)
}

/** Serialises async steps (e.g. inventory saves from parallel clones). */
export function serial(): <T>(fn: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve()
  return <T>(fn: () => Promise<T>) => {
    const run = tail.then(fn, fn)
    tail = run.catch(() => undefined)
    return run
  }
}

/** Runs the steps given with at most `limit` in flight; the rest wait their turn, in order. */
export function bounded(limit: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let running = 0
  const waiting: (() => void)[] = []
  return async <T>(fn: () => Promise<T>) => {
    if (running >= limit) await new Promise<void>((resolve) => waiting.push(resolve))
    else running++
    try {
      return await fn()
    } finally {
      // The slot passes straight to the next in line (running stays counted), or is freed.
      const next = waiting.shift()
      if (next) next()
      else running--
    }
  }
}
