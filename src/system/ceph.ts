import {type ResultPromise} from 'execa'
import {fileURLToPath} from 'node:url'

import {EXIT, ExternalCommandError, PreconditionError, PxerootError} from '../errors.js'
import {jsonLines} from './json-lines.js'
import {type Runner} from './runner.js'

/**
 * Every Ceph client pxeroot runs (rbd, ceph, rados, qemu-storage-daemon, its own librbd session)
 * is started here, so that each one gets the cluster's ceph.conf and cephx id, a bounded lifetime
 * that ends in SIGKILL (`timeout -k`: a Ceph tool waiting on a dead monitor ignores the plain
 * signal's deadline), and, in the lab and the tests, the network namespace the cluster lives in.
 * The namespace is entered with `nsenter --net` alone: `ip netns exec` would also give the tool
 * a copy of the mount namespace, and a hung client would keep the loop devices and mounts of the
 * server's attachments busy (notes/ceph.md). A Ceph tool never runs without --conf: without one
 * it asks the host's DNS for monitors.
 */
export interface CephClient {
  /** ceph.conf on disk. */
  conf: string
  /** cephx user, without "client.". */
  id: string
  pool: string
  /** The network namespace the cluster is reached from (lab and tests), else the host's. */
  netns?: string
}

/** What a cluster that answers at all answers within: monitors, then OSD operations. */
export const CEPH_TIMEOUT_S = 30
/** SIGTERM, then this long before SIGKILL. */
const KILL_AFTER_S = 5

/** Debian packages of the clients. */
export const CEPH_PACKAGES = {
  rbd: 'ceph-common',
  ceph: 'ceph-common',
  rados: 'ceph-common',
  python3: 'python3-rbd',
  'qemu-storage-daemon': 'qemu-system-common qemu-block-extra',
} as const

/**
 * argv that runs `program args` for this client: in its namespace, bounded by `seconds`, and
 * ended with pxeroot's own process should that be killed (the parent-death signal on `timeout`,
 * and on the program under it: a client left running would hold what it attached).
 */
export function cephArgv(client: Pick<CephClient, 'netns'>, seconds: number, program: string, args: readonly string[], options: {outlive?: boolean} = {}): [string, string[]] {
  // A server meant to outlive the run (an rbd gateway's daemon without systemd) keeps only its bound.
  const withParent = options.outlive ? [] : ['setpriv', '--pdeathsig', 'KILL', '--']
  const bounded = [...withParent, 'timeout', '-k', String(KILL_AFTER_S), String(seconds), ...withParent, program, ...args]
  return client.netns ? ['nsenter', [`--net=/run/netns/${client.netns}`, '--', ...bounded]] : [bounded[0], bounded.slice(1)]
}

/**
 * The environment of every client: its ceph.conf even for a tool that does not take --conf, and
 * bounds on every monitor and OSD operation (librados reads CEPH_ARGS; qemu's rbd driver too). A
 * full pool or a lost cluster then makes an operation fail, where it would otherwise wait forever.
 */
export function cephEnv(client: Pick<CephClient, 'conf'>): Record<string, string> {
  const bound = String(CEPH_TIMEOUT_S)
  return {CEPH_CONF: client.conf, CEPH_ARGS: `--rados_osd_op_timeout=${bound} --rados_mon_op_timeout=${bound} --client_mount_timeout=${bound}`}
}

/** The cluster did not answer in time: one clean line, whatever tool asked. */
export class ClusterTimeoutError extends PxerootError {
  constructor(client: CephClient, what: string, seconds: number) {
    super(`the Ceph cluster did not answer within ${seconds} s (${what}; ${client.conf}, pool ${client.pool}); nothing was changed`,
      'check that its monitors and OSDs are up and reachable from this server ("ceph -s"), then run the command again')
  }
}

export interface CephRunOptions {
  seconds?: number
  signal?: AbortSignal
  /** Resolve with the result instead of throwing on a non-zero exit. */
  reject?: boolean
}

/** `rbd`, `ceph` or `rados` with --conf and --id. */
export async function runCephTool(runner: Runner, client: CephClient, program: 'rbd' | 'ceph' | 'rados', args: readonly string[], options: CephRunOptions = {}): Promise<{exitCode: number, stdout: string, stderr: string}> {
  const seconds = options.seconds ?? CEPH_TIMEOUT_S
  const extra = program === 'ceph' ? ['--connect-timeout', String(Math.min(seconds, CEPH_TIMEOUT_S))] : []
  const [command, argv] = cephArgv(client, seconds, program, ['--conf', client.conf, '--id', client.id, ...extra, ...args])
  const r = await runner.run(command, argv, {timeout: (seconds + KILL_AFTER_S + 5) * 1000, env: cephEnv(client), cancelSignal: options.signal, reject: false})
  // timeout(1) exits 124 when it had to stop the tool, 137 when it had to kill it.
  if (r.exitCode === 124 || r.exitCode === 137) throw new ClusterTimeoutError(client, `${program} ${args.slice(0, 2).join(' ')}`, seconds)
  if (r.exitCode === 127) throw new PreconditionError(`${program} is not installed`, `apt-get install ${CEPH_PACKAGES[program]}`)
  if (r.exitCode !== 0 && options.reject !== false) {
    throw new ExternalCommandError(program, args, r.exitCode, (r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | '))
  }
  return r
}

/** The librbd session's program (a file beside this module, in src/ and in dist/). */
const SESSION_SCRIPT = fileURLToPath(new URL('./rbd-session.py', import.meta.url))
/** Debian's python3, which has python3-rbd; a python3 earlier on PATH (pyenv) would not. */
const PYTHON = '/usr/bin/python3'
/** A session outlives no pxeroot run: longer than any, bounded all the same. */
const SESSION_LIFETIME_S = 6 * 3600

type SessionOptions = {stdin: 'pipe', stdout: 'pipe', stderr: 'pipe', buffer: false, reject: false, env: Record<string, string>}

interface Pending {
  resolve: (value: unknown) => void
  reject: (error: Error) => void
  timer: NodeJS.Timeout
  what: string
}

/** A failed request of the session, with librados' errno. */
export class RbdError extends PxerootError {
  constructor(message: string, readonly errno: number | undefined, suggestion?: string) {
    super(message, suggestion)
  }
}

/** A request that needed room in a full pool (EDQUOT: its quota, ENOSPC: its OSDs): exit 2, as every full pool. */
export class RbdFullError extends RbdError {
  override readonly exitCode: number = EXIT.usage
}

/** A request the cluster refused to pxeroot's own cephx user (EACCES, EPERM): its caps, a setup matter (exit 3). */
export class RbdAccessError extends RbdError {
  override readonly exitCode: number = EXIT.precondition
}

/**
 * One connection to the pool for a whole run (src/system/rbd-session.py): requests as JSON
 * lines, answered in any order, each bounded. A request the cluster does not answer in time ends
 * the session (its librados call cannot be taken back), and every later one is refused.
 */
export class RbdSession {
  private child?: ResultPromise<SessionOptions>
  private connected?: Promise<unknown>
  private readonly pending = new Map<number, Pending>()
  private next = 1
  private stderr = ''
  private failure?: Error

  constructor(readonly client: CephClient, private readonly seconds = CEPH_TIMEOUT_S) {}

  /** Sends one request; starts and connects the session first if needed. */
  async call<T>(op: string, args: Record<string, unknown> = {}): Promise<T> {
    this.connected ??= this.start()
    await this.connected
    return this.send<T>(op, args)
  }

  private async start(): Promise<unknown> {
    const [command, argv] = cephArgv(this.client, SESSION_LIFETIME_S, PYTHON, [SESSION_SCRIPT, this.client.conf, this.client.id, this.client.pool, String(this.seconds)])
    const options: SessionOptions = {stdin: 'pipe', stdout: 'pipe', stderr: 'pipe', buffer: false, reject: false, env: cephEnv(this.client)}
    // execa on first use, as in runner.ts: nodes list and status on a local site load none of it.
    const {execa} = await import('execa')
    const child = execa(command, argv, options)
    this.child = child
    child.stdout.on('data', (chunk: Buffer) => this.read(chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-4000)
    })
    void child.then((r) => this.fail(new ExternalCommandError(PYTHON, ['rbd-session.py'], r.exitCode, this.stderr.trim().split('\n').slice(-3).join(' | '),
      /No module named 'r(ados|bd)'/.test(this.stderr) ? 'python3-rbd is not installed (apt-get install python3-rbd)' : undefined)))
    return this.send('connect', {})
  }

  private send<T>(op: string, args: Record<string, unknown>): Promise<T> {
    if (this.failure) return Promise.reject(this.failure)
    const id = this.next++
    return new Promise<T>((resolve, reject) => {
      // A monitor command is named as an admin would type it (ceph osd pool application enable).
      const prefix = (args.command as {prefix?: unknown} | undefined)?.prefix
      const what = op === 'mon' && typeof prefix === 'string' ? `ceph ${prefix}` : `${op} ${Object.values(args).filter((v) => typeof v === 'string').join(' ')}`.trim()
      // The session's own bound is librados': this one catches a session that stopped reading.
      const timer = setTimeout(() => this.fail(new ClusterTimeoutError(this.client, what, this.seconds)), (this.seconds + 15) * 1000)
      this.pending.set(id, {resolve: resolve as (v: unknown) => void, reject, timer, what})
      this.child!.stdin.write(`${JSON.stringify({id, op, args})}\n`)
    })
  }

  private readonly read = jsonLines<{id: number, ok: boolean, result?: unknown, error?: string, errno?: number}>((answer) => {
    const p = this.pending.get(answer.id)
    if (!p) return
    this.pending.delete(answer.id)
    clearTimeout(p.timer)
    if (answer.ok) p.resolve(answer.result)
    else if (answer.errno === 110 || /TimedOut|timed out/.test(answer.error ?? '')) p.reject(new ClusterTimeoutError(this.client, p.what, this.seconds))
    else if (answer.errno === 122 || answer.errno === 28) {
      p.reject(new RbdFullError(`${p.what}: pool ${this.client.pool} is full (${answer.error})`, answer.errno,
        `give it room first (raise its quota: ceph osd pool set-quota ${this.client.pool} max_bytes BYTES, or add OSDs): pxeroot changes nothing on a full pool, a removal neither`))
    } else if (answer.errno === 13 || answer.errno === 1) {
      p.reject(new RbdAccessError(`the cluster refused ${p.what} to client.${this.client.id} (${answer.error})`, answer.errno,
        `its caps do not allow it: see "ceph auth get client.${this.client.id}" and README "A cephx user for pxeroot" for the caps it needs`))
    } else p.reject(new RbdError(`${p.what}: ${answer.error}`, answer.errno))
  })

  private fail(error: Error): void {
    this.failure ??= error
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer)
      p.reject(this.failure)
      this.pending.delete(id)
    }
    if (this.child && this.child.exitCode === null) this.child.kill('SIGKILL')
  }

  /** Ends the session (its process first closes the connection). */
  async close(): Promise<void> {
    const child = this.child
    if (!child) return
    this.failure ??= new PxerootError('internal: the RBD session was closed')
    child.stdin.end()
    const ended = await Promise.race([child.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 10_000).unref())])
    if (!ended) child.kill('SIGKILL')
    await child.catch(() => undefined)
  }
}
