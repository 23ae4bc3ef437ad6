import {type ResultPromise} from 'execa'
import {fileURLToPath} from 'node:url'

import {PxerootError} from '../errors.js'

/**
 * The site state's connection to a Ceph pool (state-session.py: one librados client for the
 * whole run). Every request is bounded; a cluster that does not answer fails the request with
 * kind "timeout", and the session is then unusable (its librados call cannot be taken back).
 */
export interface StateCluster {
  /** ceph.conf on disk. */
  conf: string
  /** cephx user, without "client.". */
  id: string
  pool: string
  /** The RADOS namespace the state objects live in. */
  namespace: string
  /** Lab and tests: the network namespace the cluster is reached from. */
  netns?: string
}

/** How long the cluster gets to answer one request. */
export const STATE_TIMEOUT_S = 10

export type StateErrorKind = 'busy' | 'timeout' | 'changed' | 'lost' | 'full' | 'rados' | 'internal' | 'ended'

export class StateSessionError extends PxerootError {
  constructor(readonly kind: StateErrorKind, message: string) {
    super(message)
  }
}

const SCRIPT = fileURLToPath(new URL('./state-session.py', import.meta.url))
/** Debian's python3 (with python3-rados), whatever python3 comes first on PATH. */
const PYTHON = '/usr/bin/python3'

type Options = {stdin: 'pipe', stdout: 'pipe', stderr: 'pipe', buffer: false, reject: false, env: Record<string, string>}

/** One session: requests answered in order, each within the bound. */
export class StateSession {
  private child?: ResultPromise<Options>
  private readonly waiting = new Map<number, {resolve: (v: unknown) => void, reject: (e: Error) => void, timer: NodeJS.Timeout}>()
  private next = 1
  private buffered = ''
  private stderr = ''
  private failure?: StateSessionError
  private started?: Promise<unknown>

  constructor(readonly cluster: StateCluster, private readonly seconds = STATE_TIMEOUT_S) {}

  /** argv of the session: in the cluster's namespace, killed with pxeroot, bounded by a run's lifetime. */
  private argv(): [string, string[]] {
    // Killed with pxeroot, at each level: a session left running would hold the site's lock.
    const withParent = ['setpriv', '--pdeathsig', 'KILL', '--']
    const bounded = [...withParent, 'timeout', '-k', '5', String(6 * 3600), ...withParent, PYTHON, SCRIPT, this.cluster.conf, this.cluster.id, this.cluster.pool, this.cluster.namespace, String(this.seconds)]
    return this.cluster.netns ? ['nsenter', [`--net=/run/netns/${this.cluster.netns}`, '--', ...bounded]] : [bounded[0], bounded.slice(1)]
  }

  async call<T>(op: string, args: Record<string, unknown> = {}): Promise<T> {
    this.started ??= this.start()
    await this.started
    return this.send<T>(op, args)
  }

  private async start(): Promise<unknown> {
    const [command, args] = this.argv()
    // execa on first use, as in runner.ts: commands on a local site load none of it.
    const {execa} = await import('execa')
    // A Ceph client never runs without its conf: without one it asks the host's DNS for monitors.
    const child = execa(command, args, {stdin: 'pipe', stdout: 'pipe', stderr: 'pipe', buffer: false, reject: false, env: {CEPH_CONF: this.cluster.conf}})
    this.child = child
    child.stdout.on('data', (chunk: Buffer) => this.read(chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-4000)
    })
    void child.then((r) => this.fail(new StateSessionError('ended', `the cluster state session ended (exit ${r.exitCode})${this.stderr ? `: ${this.stderr.trim().split('\n').slice(-2).join(' | ')}` : ''}`)))
    return this.send('connect')
  }

  private send<T>(op: string, args: Record<string, unknown> = {}): Promise<T> {
    if (this.failure) return Promise.reject(this.failure)
    const id = this.next++
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(new StateSessionError('timeout', `the Ceph cluster did not answer within ${this.seconds} s (${op}; ${this.cluster.conf}, pool ${this.cluster.pool})`))
      }, (this.seconds + 5) * 1000)
      this.waiting.set(id, {resolve: resolve as (v: unknown) => void, reject, timer})
      this.child!.stdin.write(JSON.stringify({id, op, ...args}) + '\n')
    })
  }

  private read(text: string): void {
    this.buffered += text
    for (let nl = this.buffered.indexOf('\n'); nl >= 0; nl = this.buffered.indexOf('\n')) {
      const line = this.buffered.slice(0, nl)
      this.buffered = this.buffered.slice(nl + 1)
      if (!line.trim()) continue
      const answer = JSON.parse(line) as {id: number, ok?: unknown, error?: StateErrorKind, message?: string}
      const w = this.waiting.get(answer.id)
      if (!w) continue
      this.waiting.delete(answer.id)
      clearTimeout(w.timer)
      if (answer.error) {
        const error = new StateSessionError(answer.error, answer.message ?? answer.error)
        // A timed-out librados call leaves the client in an unknown state: nothing more goes through it.
        if (answer.error === 'timeout') this.fail(error)
        w.reject(error)
      } else {
        w.resolve(answer.ok)
      }
    }
  }

  private fail(error: StateSessionError): void {
    this.failure ??= error
    for (const [id, w] of this.waiting) {
      clearTimeout(w.timer)
      w.reject(this.failure)
      this.waiting.delete(id)
    }
    this.child?.kill('SIGKILL')
  }

  /** Ends the session: its locks are released by the script on the way out (or expire). */
  async close(): Promise<void> {
    if (!this.child) return
    this.child.stdin.end()
    const done = this.child.then(() => undefined, () => undefined)
    const bound = new Promise((resolve) => setTimeout(resolve, 10_000).unref())
    await Promise.race([done, bound])
    if (this.child.exitCode === null) this.child.kill('SIGKILL')
    for (const w of this.waiting.values()) clearTimeout(w.timer)
  }
}
