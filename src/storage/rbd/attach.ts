import {randomBytes} from 'node:crypto'
import {promises as fs} from 'node:fs'
import path from 'node:path'

import {attachLoop, detachLoop, loopsUnder, setExt4Uuid} from '../../system/block.js'
import {type CephClient} from '../../system/ceph.js'
import {type Context} from '../../system/context.js'
import {processStart, stillRunning} from '../../system/detached.js'
import {mountFs, mountsUnder, unmount} from '../../system/mounts.js'
import {killAll} from '../../system/processes.js'
import {createOverlay, type ExportSpec, StorageDaemon, type QsdRecord} from '../../system/qsd.js'
import {removeTree} from '../../system/trees.js'

/**
 * Attaching an RBD image on this server without a kernel rbd driver: a FUSE export of
 * qemu-storage-daemon (one daemon per pxeroot run, serving every image it attaches), a loop
 * device over the export's file, and the ext4 in it mounted under the run's directory. Each step
 * is undone in reverse when a later one fails, and `close` undoes all of them, so a refused
 * attach leaves no mount, loop device, export or daemon behind. A run that is killed leaves its
 * directory (owner.json names its PID): the next run unmounts, detaches and stops what is there
 * (reapStaleAttachments).
 */

/** Where runs keep their attachments (a host path: resolved under --root). */
export const ATTACH_DIR = '/run/pxeroot/rbd'
/** No run attaches for longer; the daemon's bound. */
const DAEMON_LIFETIME_S = 6 * 3600
/**
 * Daemons a run spreads its attachments over. A daemon carries out its QMP commands one after
 * the other, and opening, exporting and closing an image took ~350 ms of them per root here:
 * more daemons let the attachments of a bulk clone overlap (~50 MiB each).
 */
const DAEMONS = 4

export interface Attachment {
  /** The mounted tree. */
  dir: string
  close(): Promise<void>
}

export interface AttachSpec extends Omit<ExportSpec, 'overlay'> {
  /** Mount it read-only (the filesystem is not written; with an overlay, its journal is still replayed into it). */
  mountReadOnly: boolean
  /** Stack a private copy-on-write file on the read-only image (ExportSpec.overlay) of the image's size. */
  overlay?: {bytes: number}
  /** Mount it here instead of under the run's directory (a gateway root at its node's path). */
  at?: string
  /** The name under the run's directory (a root entry, a revision). */
  label: string
  /** A writable attachment: the ext4's UUID, given to it before it is mounted if it has another (names.ts: rootUuid). */
  uuid?: string
}

interface OwnerRecord {
  pid: number
  start: string
  qsd?: QsdRecord[]
}

export class Attacher {
  readonly runDir: string
  private prepared?: Promise<OwnerRecord>
  private readonly daemons: Promise<StorageDaemon>[] = []
  /** Attachments being made or open, by daemon. */
  private readonly load = new Map<number, number>()
  private readonly open = new Set<Attachment>()
  private recording: Promise<unknown> = Promise.resolve()

  constructor(private readonly ctx: Context, private readonly client: CephClient) {
    this.runDir = path.join(ctx.root.resolve(ATTACH_DIR), `${process.pid}-${randomBytes(3).toString('hex')}`)
  }

  /** The run's directory and its owner record, made once (after cleaning what killed runs left). */
  private async prepare(): Promise<OwnerRecord> {
    this.prepared ??= (async () => {
      await reapStaleAttachments(this.ctx)
      await this.ctx.files.mkdir(this.runDir, 0o700)
      const owner: OwnerRecord = {pid: process.pid, start: (await processStart(process.pid))!, qsd: []}
      await this.ctx.files.write(path.join(this.runDir, 'owner.json'), JSON.stringify(owner), {mode: 0o600})
      return owner
    })()
    return this.prepared
  }

  /** The least busy daemon, a new one while fewer than DAEMONS run and all are busy. */
  private async storageDaemon(): Promise<{daemon: StorageDaemon, index: number}> {
    const owner = await this.prepare()
    let index = [...this.daemons.keys()].sort((a, b) => (this.load.get(a) ?? 0) - (this.load.get(b) ?? 0))[0]
    if (index === undefined || ((this.load.get(index) ?? 0) > 0 && this.daemons.length < DAEMONS)) {
      index = this.daemons.length
      const started = StorageDaemon.start(this.client, path.join(this.runDir, `qsd${index}`), DAEMON_LIFETIME_S)
      this.daemons.push(started)
      const daemon = await started.catch((error: Error) => {
        this.daemons.splice(index!, 1)
        throw error
      })
      const record = await daemon.record(process.pid)
      if (record) owner.qsd!.push(record)
      this.recording = this.recording.then(() => this.ctx.files.write(path.join(this.runDir, 'owner.json'), JSON.stringify(owner), {mode: 0o600}))
      await this.recording
    }
    this.load.set(index, (this.load.get(index) ?? 0) + 1)
    return {daemon: await this.daemons[index], index}
  }

  /** Attaches and mounts an image; everything taken is given back if a step fails. */
  async attach(spec: AttachSpec): Promise<Attachment> {
    const {daemon, index} = await this.storageDaemon()
    const undo: (() => Promise<unknown>)[] = [async () => this.load.set(index, (this.load.get(index) ?? 1) - 1)]
    const rollback = async () => {
      for (const step of undo.reverse()) await step().catch((error: Error) => this.ctx.log(`warning: ${error.message}`))
    }
    try {
      let overlay: string | undefined
      if (spec.overlay) {
        const file = path.join(this.runDir, `${spec.label}.${randomBytes(3).toString('hex')}.qcow2`)
        undo.push(() => this.ctx.files.remove(file))
        await createOverlay(this.ctx.runner, file, spec.overlay.bytes)
        overlay = file
      }
      const exp = await daemon.exportImage({...spec, overlay})
      undo.push(() => daemon.unexport(exp))
      const loopReadOnly = !overlay && (spec.readOnly || spec.snapshot !== undefined)
      const loop = await attachLoop(this.ctx.runner, exp.file, {readOnly: loopReadOnly})
      undo.push(() => detachLoop(this.ctx.runner, loop))
      const dir = spec.at ?? path.join(this.runDir, 'mnt', spec.label, 'rootfs')
      await this.ctx.files.mkdir(dir, 0o755)
      // Empty once unmounted: rmdir, which never descends into a mount left behind (a bulk clone
      // makes and removes one per node; rm -rf and its mount checks cost a process and a scan each).
      if (!spec.at) undo.push(async () => {
        await this.ctx.files.removeEmptyDir(dir)
        await this.ctx.files.removeEmptyDir(path.dirname(dir))
      })
      // A snapshot is clean and read-only: its journal is not replayed (noload), nothing is written.
      if (spec.uuid && !loopReadOnly) await setExt4Uuid(this.ctx.runner, loop, spec.uuid, this.ctx.signal)
      const options = [spec.mountReadOnly ? 'ro' : 'rw', ...(loopReadOnly ? ['noload'] : [])].join(',')
      await mountFs(this.ctx.runner, 'ext4', loop, dir, options, {signal: this.ctx.signal})
      undo.push(() => unmount(this.ctx.runner, dir))
      let closed = false
      const attachment: Attachment = {
        dir,
        close: async () => {
          if (closed) return
          closed = true
          this.open.delete(attachment)
          await rollback()
        },
      }
      this.open.add(attachment)
      return attachment
    } catch (error) {
      await rollback()
      throw error
    }
  }

  /** Closes what is still open and stops the daemon; removes the run's directory. */
  async close(): Promise<void> {
    for (const a of [...this.open]) await a.close().catch((error: Error) => this.ctx.log(`warning: ${error.message}`))
    for (const started of this.daemons.splice(0)) await (await started.catch(() => undefined))?.stop()
    if (this.prepared) {
      await this.prepared.catch(() => undefined)
      this.prepared = undefined
      await removeTree(this.ctx.runner, this.runDir).catch((error: Error) => this.ctx.log(`warning: ${error.message}`))
    }
  }
}

/**
 * What runs that were killed left attached: for every run directory whose owner is gone, its
 * mounts (lazily: a dead FUSE export cannot be read), its loop devices and its daemon (by PID and
 * start time), then the directory. Returns the directories cleaned.
 */
export async function reapStaleAttachments(ctx: Context): Promise<string[]> {
  const base = ctx.root.resolve(ATTACH_DIR)
  const reaped: string[] = []
  for (const name of await fs.readdir(base).catch(() => [] as string[])) {
    const dir = path.join(base, name)
    const owner = JSON.parse(await fs.readFile(path.join(dir, 'owner.json'), 'utf8').catch(() => 'null')) as OwnerRecord | null
    if (owner && await stillRunning({pid: owner.pid, start: owner.start})) continue
    // A directory without a record is only cleaned once it is old enough not to be a run starting now.
    if (!owner && Date.now() - (await fs.stat(dir)).mtimeMs < 60_000) continue
    for (const mp of await mountsUnder(dir)) await unmount(ctx.runner, mp, {lazy: true}).catch(() => undefined)
    for (const loop of await loopsUnder(dir)) await detachLoop(ctx.runner, loop).catch(() => undefined)
    for (const qsd of owner?.qsd ?? []) if (await stillRunning(qsd)) await killAll([qsd.pid])
    for (const mp of await mountsUnder(dir)) await unmount(ctx.runner, mp, {lazy: true}).catch(() => undefined)
    await removeTree(ctx.runner, dir, {mounts: 'unmount'})
    ctx.log(`removed what a killed run left attached in ${dir}`)
    reaped.push(dir)
  }
  return reaped
}
