import {type ResultPromise} from 'execa'
import {promises as fs} from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'

import {ExternalCommandError, PreconditionError} from '../errors.js'
import {cephArgv, cephEnv, type CephClient} from './ceph.js'
import {processStart} from './detached.js'
import {jsonLines} from './json-lines.js'
import {type Runner} from './runner.js'

/**
 * qemu-storage-daemon: QEMU's librbd block driver, serving RBD images as files through FUSE
 * exports, for a host whose kernel has no rbd (krbd) or nbd driver (notes/ceph.md). One daemon
 * serves every image a pxeroot run attaches, added and removed at run time over its QMP socket:
 * opening an image costs ~50-90 ms, a second process per image ~50 MiB. A FUSE export is a file
 * the size of the image; src/system/loop.ts turns it into a block device to mount.
 */

const START_MS = 15_000
const QMP_MS = 60_000

interface QmpAnswer {
  return?: unknown
  error?: {class: string, desc: string}
  event?: string
}

/** One image served: its FUSE file (and the node names to take down). */
export interface QsdExport {
  id: string
  file: string
  nodes: string[]
}

export interface ExportSpec {
  namespace: string
  image: string
  /** Serve this snapshot (read-only). */
  snapshot?: string
  /** Open the image read-only (no lock taken, nothing written to it). */
  readOnly: boolean
  /**
   * A qcow2 file (made by createOverlay) stacked on the read-only image: the export is writable,
   * writes land in the file only. What a mount of a root its node is running needs: the journal
   * is replayed into the overlay, never into the cluster.
   */
  overlay?: string
}

/** What a run records about its daemon, so a run killed with it still running is cleaned by the next. */
export interface QsdRecord {
  pid: number
  start: string
  owner: number
  socket: string
}

type DaemonOptions = {stdin: 'ignore', stdout: 'ignore', stderr: 'pipe', buffer: false, reject: false, env: Record<string, string>}

export class StorageDaemon {
  private socket?: net.Socket
  private waiting: ((a: QmpAnswer) => void)[] = []
  private queue: Promise<unknown> = Promise.resolve()
  private counter = 0
  private exited?: string
  private stderr = ''

  private constructor(readonly client: CephClient, readonly dir: string, private readonly child: ResultPromise<DaemonOptions>) {}

  /** Starts a daemon whose socket and export files live in `dir` (created 0700). */
  static async start(client: CephClient, dir: string, lifetimeS: number): Promise<StorageDaemon> {
    await fs.mkdir(dir, {recursive: true, mode: 0o700})
    const socket = path.join(dir, 'qmp.sock')
    await fs.rm(socket, {force: true})
    const [command, argv] = cephArgv(client, lifetimeS, 'qemu-storage-daemon', ['--chardev', `socket,id=qmp,path=${socket},server=on,wait=off`, '--monitor', 'chardev=qmp'])
    const options: DaemonOptions = {stdin: 'ignore', stdout: 'ignore', stderr: 'pipe', buffer: false, reject: false, env: cephEnv(client)}
    // execa on first use, as in runner.ts: start-up of commands that start no process stays light.
    const {execa} = await import('execa')
    const child = execa(command, argv, options)
    const daemon = new StorageDaemon(client, dir, child)
    child.stderr.on('data', (chunk: Buffer) => {
      daemon.stderr = (daemon.stderr + chunk.toString()).slice(-4000)
    })
    void child.then((r) => {
      daemon.exited = `exited ${r.exitCode ?? r.signal ?? ''}`
      for (const w of daemon.waiting.splice(0)) w({error: {class: 'GenericError', desc: `qemu-storage-daemon ${daemon.exited}`}})
    })
    const deadline = Date.now() + START_MS
    for (;;) {
      if (daemon.exited) {
        const text = daemon.stderr
        if (child.exitCode === 127) throw new PreconditionError('qemu-storage-daemon is not installed', 'apt-get install qemu-system-common qemu-block-extra')
        throw new ExternalCommandError('qemu-storage-daemon', [], child.exitCode ?? undefined, text.trim().split('\n').slice(-2).join(' | '))
      }
      if (await daemon.connect(socket)) break
      if (Date.now() > deadline) {
        await daemon.stop()
        throw new ExternalCommandError('qemu-storage-daemon', [], undefined, '', `qemu-storage-daemon did not open its QMP socket within ${START_MS / 1000} s`)
      }
      await sleep(50)
    }
    await daemon.qmp('qmp_capabilities')
    return daemon
  }

  /** The daemon as the next run finds it, should this one be killed. */
  async record(owner: number): Promise<QsdRecord | undefined> {
    const pid = await serverPid(this.child.pid)
    const start = pid === undefined ? undefined : await processStart(pid)
    return pid === undefined || start === undefined ? undefined : {pid, start, owner, socket: path.join(this.dir, 'qmp.sock')}
  }

  private async connect(socket: string): Promise<boolean> {
    return new Promise((resolve) => {
      const s = net.createConnection(socket)
      s.once('error', () => resolve(false))
      s.once('connect', () => {
        this.socket = s
        s.on('data', (chunk) => this.read(chunk.toString()))
        s.on('close', () => {
          for (const w of this.waiting.splice(0)) w({error: {class: 'GenericError', desc: 'the QMP socket closed'}})
        })
        resolve(true)
      })
    }).then(async (ok) => {
      // The greeting comes first.
      if (ok) await this.answer()
      return ok as boolean
    })
  }

  private readonly read = jsonLines<QmpAnswer>((message) => {
    // Events come whenever they happen; every other message answers the oldest command waiting.
    if (!message.event) this.waiting.shift()?.(message)
  })

  private answer(): Promise<QmpAnswer> {
    return new Promise((resolve) => this.waiting.push(resolve))
  }

  /** One QMP command at a time (QMP answers in order). */
  qmp(execute: string, args?: Record<string, unknown>): Promise<unknown> {
    const run = this.queue.then(async () => {
      if (this.exited) throw new ExternalCommandError('qemu-storage-daemon', [execute], undefined, '', `qemu-storage-daemon ${this.exited}`)
      const answer = this.answer()
      this.socket!.write(`${JSON.stringify({execute, ...(args ? {arguments: args} : {})})}\n`)
      const timer = sleep(QMP_MS, 'timeout' as const, {ref: false})
      const got = await Promise.race([answer, timer])
      if (got === 'timeout') throw new ExternalCommandError('qemu-storage-daemon', [execute], undefined, '', `qemu-storage-daemon did not answer ${execute} within ${QMP_MS / 1000} s`)
      if (got.error) throw new ExternalCommandError('qemu-storage-daemon', [execute], undefined, got.error.desc, `${execute}: ${got.error.desc}`)
      return got.return
    })
    this.queue = run.catch(() => undefined)
    return run
  }

  /** Serves an image as a FUSE file in the daemon's directory. */
  async exportImage(spec: ExportSpec): Promise<QsdExport> {
    const id = `x${++this.counter}`
    const file = path.join(this.dir, id)
    await fs.writeFile(file, '', {mode: 0o600})
    const base = `${id}-rbd`
    const nodes: string[] = []
    try {
      await this.qmp('blockdev-add', {
        driver: 'rbd', 'node-name': base, pool: this.client.pool, namespace: spec.namespace, image: spec.image,
        ...(spec.snapshot ? {snapshot: spec.snapshot} : {}), conf: this.client.conf, user: this.client.id,
        'read-only': spec.readOnly || spec.snapshot !== undefined || spec.overlay !== undefined,
        // No host page cache between the node's filesystem and the cluster: what is synced is in RBD.
        cache: {direct: true, 'no-flush': false},
      })
      nodes.push(base)
      let top = base
      if (spec.overlay) {
        top = `${id}-overlay`
        await this.qmp('blockdev-add', {driver: 'qcow2', 'node-name': top, file: {driver: 'file', filename: spec.overlay}, backing: base})
        nodes.unshift(top)
      }
      await this.qmp('block-export-add', {type: 'fuse', id, 'node-name': top, mountpoint: file, writable: !(spec.readOnly || spec.snapshot) || spec.overlay !== undefined})
      return {id, file, nodes}
    } catch (error) {
      for (const node of nodes) await this.qmp('blockdev-del', {'node-name': node}).catch(() => undefined)
      await fs.rm(file, {force: true})
      throw error
    }
  }

  /** Stops serving an image: its FUSE file goes, the image is closed (its lock released). */
  async unexport(exp: QsdExport): Promise<void> {
    await this.qmp('block-export-del', {id: exp.id})
    // The export ends once its FUSE mount is released; the node can be deleted only then.
    for (let i = 0; i < 50; i++) {
      const exports = await this.qmp('query-block-exports') as {id: string}[]
      if (!exports.some((e) => e.id === exp.id)) break
      await sleep(20)
    }
    for (const node of exp.nodes) await this.qmp('blockdev-del', {'node-name': node})
    await fs.rm(exp.file, {force: true})
  }

  /** Ends the daemon (every export with it). */
  async stop(): Promise<void> {
    this.socket?.destroy()
    if (!this.exited) this.child.kill('SIGTERM')
    const ended = await Promise.race([this.child.then(() => true), sleep(10_000, false, {ref: false})])
    if (!ended) this.child.kill('SIGKILL')
    await this.child.catch(() => undefined)
  }
}

/** The qemu-storage-daemon under the bound argv's wrappers (each exec'd in place, so it is the first child of its chain). */
async function serverPid(pid: number | undefined): Promise<number | undefined> {
  let current = pid
  for (let depth = 0; current !== undefined && depth < 4; depth++) {
    const comm = (await fs.readFile(`/proc/${current}/comm`, 'utf8').catch(() => '')).trim()
    if (comm.startsWith('qemu-storage')) return current
    const children = await fs.readFile(`/proc/${current}/task/${current}/children`, 'utf8').catch(() => '')
    const next = Number(children.trim().split(/\s+/)[0])
    current = next > 0 ? next : undefined
  }
  return undefined
}

/** A qcow2 file of `bytes` to stack on a read-only image (`qemu-img create`). */
export async function createOverlay(runner: Runner, file: string, bytes: number): Promise<void> {
  await runner.run('qemu-img', ['create', '-q', '-f', 'qcow2', file, String(bytes)], {timeout: 30_000})
}
