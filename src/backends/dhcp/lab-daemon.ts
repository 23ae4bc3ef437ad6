import {PreconditionError} from '../../errors.js'
import {type LabEnv, type LabAck} from '../types.js'

/**
 * Helpers for the DHCP servers' lab hooks (issue 11). Each hook runs its daemon on the files
 * `apply` generated with the smallest delta that lets it run in the lab's sealed namespace: its
 * private paths (lease file, pid file, control socket, and copies of the generated files where
 * the daemon cannot read them on disk), the lab's interface, logging where the lab reads it, and
 * lease state seeded for address-bound nodes. Nothing else of the generated configuration changes.
 */

/** Every match of a log pattern as a lease, from the groups that hold the address and the MAC. */
export function acksIn(log: string, pattern: RegExp, ipGroup: number, macGroup: number): LabAck[] {
  return [...log.matchAll(pattern)].map((m) => ({ip: m[ipGroup] ?? '', mac: m[macGroup].toLowerCase()}))
}

/** The generated files a hook needs, as they are on disk; refused before anything starts when apply has not written them. */
export function generatedTexts<P extends string>(env: Pick<LabEnv, 'generated'>, paths: readonly P[]): Record<P, string> {
  const missing = paths.find((p) => env.generated.get(p) === undefined)
  if (missing !== undefined) throw new PreconditionError(`no DHCP configuration at ${missing}`, 'run "pxeroot apply" first')
  return Object.fromEntries(paths.map((p) => [p, env.generated.get(p)!])) as Record<P, string>
}

/** The run's start for lease state that carries times; the lab always gives it with offers. */
export function seedTime(env: Pick<LabEnv, 'now' | 'offers'>): number {
  if (env.now === undefined && (env.offers?.length ?? 0) > 0) throw new Error('internal: lease offers need the run\'s start time')
  return env.now ?? 0
}
