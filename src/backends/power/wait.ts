import {setTimeout as sleep} from 'node:timers/promises'

import {type BmcTarget, type PowerDriver, type PowerIo, type PowerState} from './types.js'

/** Asks the BMC every `pollMs` until the power is `want`; resolves with whether it got there in `timeoutMs`. */
export async function waitForPower(driver: PowerDriver, target: BmcTarget, io: PowerIo, want: PowerState, timeoutMs: number, pollMs = 2000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    io.signal?.throwIfAborted()
    if (await driver.status(target, io) === want) return true
    if (Date.now() >= deadline) return false
    await sleep(Math.min(pollMs, Math.max(0, deadline - Date.now())), undefined, {signal: io.signal})
  }
}
