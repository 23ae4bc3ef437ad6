/**
 * What one vitest run's files tell each other through the file system (each file runs in a
 * process of its own): markers named after the run's owner, the PID of the vitest process (the
 * global setup provides it; outside vitest, the calling process). Kept apart from the helpers
 * that use them, so the global setup, in the vitest process, loads nothing else.
 */
import os from 'node:os'
import path from 'node:path'

/** Set once a lab run of this vitest run asked for `--accel auto` and ran under TCG: auto means TCG on this host. */
export function autoIsTcgMark(owner: number): string {
  return path.join(os.tmpdir(), `pxeroot-test-${owner}-auto-is-tcg`)
}
