import {spawn} from 'node:child_process'
import {promises as fs, openSync, closeSync} from 'node:fs'
import {setTimeout as sleep} from 'node:timers/promises'

import {isAlive} from './processes.js'

/**
 * A process as the kernel knows it: its PID and its start time (clock ticks after boot, field 22
 * of /proc/PID/stat). A recorded PID is only ever signalled while its start time still matches,
 * so a PID the kernel gave to another process since is left alone.
 */
export interface ProcessRecord {
  pid: number
  start: string
}

/** A server started to outlive pxeroot's own process: its bound (`timeout`) and the server under it. */
export interface DetachedRecord {
  name: string
  /** The `timeout` that bounds the server's lifetime. */
  bound: ProcessRecord
  /** The server itself, the bound's child. */
  server?: ProcessRecord
}

/** The start time of a live process; undefined once it is gone or a zombie (ended, not yet reaped). */
export async function processStart(pid: number): Promise<string | undefined> {
  const stat = await fs.readFile(`/proc/${pid}/stat`, 'latin1').catch(() => undefined)
  // The command name (field 2) is in parentheses and may hold spaces: count from its end.
  const after = stat?.slice(stat.lastIndexOf(')') + 2).split(' ')
  return after && after[0] !== 'Z' && after[0] !== 'X' ? after[19] : undefined
}

/** Whether the recorded process still runs (the same one: its PID not reused since). */
export async function stillRunning(rec: ProcessRecord | undefined): Promise<boolean> {
  return rec !== undefined && isAlive(rec.pid) && await processStart(rec.pid) === rec.start
}

async function childOf(pid: number): Promise<number | undefined> {
  const children = await fs.readFile(`/proc/${pid}/task/${pid}/children`, 'latin1').catch(() => '')
  const first = Number(children.trim().split(/\s+/)[0])
  return first > 0 ? first : undefined
}

export interface DetachedSpec {
  name: string
  /** argv of a command that ends in `timeout ... SERVER ...`: the first process found under it is the server. */
  command: string
  args: readonly string[]
  /** Its stdout and stderr. */
  log: string
  env?: Readonly<Record<string, string>>
}

const FIND_CHILD_MS = 5000

/**
 * Starts a server that keeps running after pxeroot exits: its own session (no terminal signal
 * reaches it), its output appended to `log` (never to pxeroot's own stdout, which a pipe reader
 * would otherwise wait on), bounded by the `timeout` its argv runs it under. Returns both PIDs
 * with their start times for stopDetached.
 */
export async function spawnDetached(spec: DetachedSpec): Promise<DetachedRecord> {
  const fd = openSync(spec.log, 'a', 0o644)
  let pid: number | undefined
  try {
    const child = spawn(spec.command, [...spec.args], {detached: true, stdio: ['ignore', fd, fd], env: {...process.env, ...spec.env}})
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve)
      child.once('error', reject)
    })
    child.unref()
    pid = child.pid
  } finally {
    closeSync(fd)
  }
  if (pid === undefined) throw new Error(`internal: ${spec.name} has no PID`)
  const bound: ProcessRecord = {pid, start: (await processStart(pid)) ?? ''}
  const deadline = Date.now() + FIND_CHILD_MS
  while (Date.now() < deadline && isAlive(pid)) {
    // nsenter execs into timeout, whose first child is the server.
    const server = await childOf(pid)
    if (server) {
      const start = await processStart(server)
      if (start) return {name: spec.name, bound, server: {pid: server, start}}
    }
    await sleep(50)
  }
  return {name: spec.name, bound}
}

function signal(rec: ProcessRecord, sig: NodeJS.Signals): void {
  try {
    process.kill(rec.pid, sig)
  } catch {
    // Gone already.
  }
}

/**
 * SIGTERM to the server and its bound, up to `graceMs` for the server to end (an OSD flushes),
 * then SIGKILL to whichever of the two is still the recorded process. Returns whether it had to kill.
 */
export async function stopDetached(rec: DetachedRecord, graceMs = 20_000): Promise<boolean> {
  const procs = [rec.server, rec.bound].filter((p): p is ProcessRecord => p !== undefined)
  const running = async () => (await Promise.all(procs.map(stillRunning))).some(Boolean)
  for (const p of procs) if (await stillRunning(p)) signal(p, 'SIGTERM')
  const deadline = Date.now() + graceMs
  while (await running() && Date.now() < deadline) await sleep(100)
  let killed = false
  for (const p of procs) {
    if (await stillRunning(p)) {
      signal(p, 'SIGKILL')
      killed = true
    }
  }
  while (await running() && Date.now() < deadline + 5000) await sleep(50)
  return killed
}
