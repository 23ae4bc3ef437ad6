import {type BootTarget, type Evidence, fatalLine, milestonesOf, type MilestoneId, reachedMilestones, refusedFile} from './milestones.js'

/** After the login prompt, how long to wait for the server logs to show the earlier steps. */
export const SETTLE_MS = 5000

/** How a VM's boot ended; `kind` is what callers decide on, `reason` what a person reads. */
export type OutcomeKind = 'passed' | 'fatal' | 'stopped' | 'timeout' | 'incomplete'

export interface Outcome {
  passed: boolean
  kind: OutcomeKind
  reason?: string
  /** When it was decided (ms, the clock of the observations). */
  at: number
}

/** One VM's boot as followed so far. */
export interface BootProgress {
  target: BootTarget
  /** When the VM was started (ms). */
  started: number
  /** Milestones reached, with seconds since the start. */
  reached: Map<MilestoneId, number>
  loginAt?: number
  outcome?: Outcome
}

export interface Observation {
  evidence: Evidence
  now: number
  /** The run's deadline (ms). */
  deadline: number
  /** Set once the VM's process has ended. */
  vmEnded?: {error?: string}
}

export function newProgress(target: BootTarget, started: number): BootProgress {
  return {target, started, reached: new Map()}
}

/**
 * Advances one VM by one observation of the evidence; pure but for updating `progress`. A VM
 * passes when every milestone of its chain is seen (the login prompt with its own name last;
 * for UEFI, the kernel reporting Secure Boot too), fails at once on a console line that means the
 * boot will not get anywhere or a file of its chain the TFTP server refused (OVMF would otherwise
 * wander through its other boot options for minutes), when its VM stops, or at the deadline;
 * after the login prompt the server's logs get SETTLE_MS to show the earlier steps.
 * Returns the milestones newly reached.
 */
export function observe(progress: BootProgress, o: Observation): MilestoneId[] {
  if (progress.outcome) return []
  const fresh: MilestoneId[] = []
  for (const id of reachedMilestones(progress.target, o.evidence)) {
    if (progress.reached.has(id)) continue
    progress.reached.set(id, (o.now - progress.started) / 1000)
    fresh.push(id)
  }
  const decide = (kind: OutcomeKind, reason?: string) => {
    progress.outcome = {passed: kind === 'passed', kind, reason, at: o.now}
  }
  const missing = milestonesOf(progress.target).filter((m) => !progress.reached.has(m.id))
  if (missing.length === 0) decide('passed')
  else if (progress.reached.has('login')) {
    progress.loginAt ??= o.now
    if (o.now - progress.loginAt > SETTLE_MS) decide('incomplete')
  } else {
    const fatal = fatalLine(o.evidence.console, progress.target.uefi !== undefined)
    const refused = refusedFile(progress.target, o.evidence.tftp)
    if (fatal) decide('fatal', `console: ${fatal}`)
    else if (refused) decide('fatal', `TFTP: ${refused}`)
    else if (o.vmEnded) decide('stopped', `the VM stopped${o.vmEnded.error ? `: ${o.vmEnded.error}` : ''}`)
    else if (o.now > o.deadline) decide('timeout', `timed out after ${Math.round((o.deadline - progress.started) / 1000)} s`)
  }
  return fresh
}

/**
 * Whether a run says nothing about the nodes, only about the accelerator: every VM stopped
 * before its first DHCP request (a /dev/kvm whose guests reset in the firmware, as nested
 * virtualisation does). Such a run is repeated under TCG.
 */
export function acceleratorFailed(runs: readonly BootProgress[]): boolean {
  return runs.length > 0 && runs.every((p) => p.outcome?.kind === 'stopped' && p.reached.size === 0)
}
