import {setTimeout as sleep} from 'node:timers/promises'

import {type LabFetch} from '../backends/types.js'
import {ExternalCommandError} from '../errors.js'
import {observe, type BootProgress, type Outcome} from './decide.js'
import {milestonesOf, mountsIn, plainConsole, type Evidence, type Lease, type NfsMount} from './milestones.js'
import {PcapReader} from './pcap.js'
import {TftpTracker} from './tftp.js'

/** What the lab reads of one VM while it boots. */
export interface VmFeed {
  progress: BootProgress
  /** New serial console bytes since the last call. */
  console(): Promise<Buffer>
  /** New capture bytes (pcap) since the last call. */
  capture(): Promise<Buffer>
  /** Set once the VM's process has ended. */
  ended(): {error?: string} | undefined
  /** Stops the VM (it has failed; a passed one runs on until the run's status is read). */
  stop(): Promise<void>
  /** Whether the VM has been started (runs one at a time start each when the one before is decided); default yes. */
  started?(): boolean
  /** The address of the TFTP server it boots from, where the run has several servers (default: WatchOptions.server). */
  server?: string
}

/** What the lab reads of its servers. */
export interface ServerFeed {
  /** Every address the DHCP server (in proxy mode: the network's own) has acknowledged so far. */
  leases(): Promise<Lease[]>
  /** Every file the web server has sent so far (boot.transport http). */
  fetches?(): Promise<LabFetch[]>
  /** New NFS server log text since the last call. */
  nfsLog(): Promise<string>
  /** A server that stopped, with its last words: the run cannot go on. */
  failed(): Promise<{name: string, code?: number, why: string} | undefined>
}

export interface WatchOptions {
  server: string
  timeoutMs: number
  pollMs?: number
  signal: AbortSignal
  log: (line: string) => void
  now?: () => number
  wait?: (ms: number) => Promise<unknown>
  /** Called before each look (the run starts its waiting VMs there). */
  beforePoll?: () => Promise<void>
}

export interface WatchResult {
  /** The server-side evidence as last read. */
  leases: Lease[]
  http: LabFetch[]
  mounts: NfsMount[]
  /** Per VM: its console so far and its TFTP reads. */
  consoles: string[]
  tftp: TftpTracker[]
}

/**
 * Follows every VM until each has passed or failed (see decide.ts): polls the consoles, the
 * captures and the server logs, logs each milestone as it is reached, and stops each VM that
 * failed. A passed VM runs on (idle at its login prompt, its root mounted) so that the run can
 * read `pxeroot status` of a live cluster before teardown. A server that dies ends the run with
 * its log; Ctrl-C ends it as interrupted.
 */
export async function watchBoots(vms: readonly VmFeed[], servers: ServerFeed, o: WatchOptions): Promise<WatchResult> {
  const now = o.now ?? Date.now
  const wait = o.wait ?? sleep
  const deadline = now() + o.timeoutMs
  const pcaps = vms.map(() => new PcapReader())
  const tftp = vms.map((vm) => new TftpTracker(vm.server ?? o.server))
  const consoles = vms.map(() => '')
  let nfsLog = ''
  let leases: Lease[] = []
  let http: LabFetch[] = []
  let mounts: NfsMount[] = []
  const stopping: Promise<void>[] = []
  for (;;) {
    o.signal.throwIfAborted()
    await o.beforePoll?.()
    const dead = await servers.failed()
    if (dead) throw new ExternalCommandError(dead.name, [], dead.code, '', `${dead.name} stopped during the lab run: ${dead.why}`)
    nfsLog += await servers.nfsLog()
    leases = await servers.leases()
    http = await servers.fetches?.() ?? []
    mounts = mountsIn(nfsLog)
    const t = now()
    for (const [i, vm] of vms.entries()) {
      const p = vm.progress
      if (p.outcome || vm.started?.() === false) continue
      consoles[i] += plainConsole((await vm.console()).toString('latin1'))
      for (const d of pcaps[i].push(await vm.capture())) tftp[i].add(d)
      const evidence: Evidence = {leases, tftp: tftp[i], http, mounts, console: consoles[i]}
      for (const id of observe(p, {evidence, now: t, deadline, vmEnded: vm.ended()})) {
        const s = (t - p.started) / 1000
        o.log(`lab: ${p.target.name.padEnd(10)} ${s < 10 ? ' ' : ''}${s.toFixed(1)} s  ${milestonesOf(p.target).find((m) => m.id === id)!.label}`)
      }
      const decided = outcomeOf(p)
      if (decided) {
        o.log(`lab: ${p.target.name.padEnd(10)} ${decided.passed ? 'PASS' : `FAIL${decided.reason ? `: ${decided.reason}` : ''}`}`)
        if (!decided.passed) stopping.push(vm.stop())
      }
    }
    if (vms.every((vm) => vm.progress.outcome)) break
    await wait(o.pollMs ?? 1000)
  }
  await Promise.all(stopping)
  return {leases, http, mounts, consoles, tftp}
}

/** Read afresh: observe() may have decided since the last look. */
function outcomeOf(p: BootProgress): Outcome | undefined {
  return p.outcome
}
