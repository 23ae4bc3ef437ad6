import {setTimeout as sleep} from 'node:timers/promises'

/** Whether a process exists (one we may not signal, EPERM, exists too). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Sends a signal to a process pxeroot started (a lab server's SIGHUP); gone already is fine. */
export function signalProcess(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig)
  } catch {
    // Gone already.
  }
}

/** SIGTERM, a grace period, then SIGKILL for whatever is still there. */
export async function killAll(pids: readonly number[], graceMs = 2000): Promise<void> {
  for (const pid of pids) signalProcess(pid, 'SIGTERM')
  const deadline = Date.now() + graceMs
  while (pids.some(isAlive) && Date.now() < deadline) await sleep(100)
  for (const pid of pids.filter(isAlive)) signalProcess(pid, 'SIGKILL')
}
