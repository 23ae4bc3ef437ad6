import {createWriteStream} from 'node:fs'
import {setTimeout as sleep} from 'node:timers/promises'

import {type Runner} from './runner.js'

/** A foreground server or VM the lab started: its output goes to a log file; it lives until stopped or its bound. */
export interface Daemon {
  readonly name: string
  readonly log: string
  /** Set once the process has ended, for whatever reason. */
  ended?: {code?: number, error?: string}
  /** Resolves when the process has ended. */
  readonly done: Promise<void>
  /** SIGTERM (SIGKILL after a grace period, from the runner), then wait for the end. */
  stop(): Promise<void>
}

export interface DaemonSpec {
  name: string
  command: string
  args: readonly string[]
  /** Its stdout and stderr, line by line. */
  log: string
  /** Hard bound on its lifetime. */
  timeoutMs: number
  /** Which run started it, in its environment (RUN_ENV): its children inherit it, so whatever a
   * run left behind can be told from another run's processes. */
  run?: string
  /** Added to its environment. */
  env?: Readonly<Record<string, string>>
}

export const RUN_ENV = 'PXEROOT_RUN'

const STOP_WAIT_MS = 15_000

/**
 * Starts a process in the background through the Runner, so it is bounded (timeout), cancelled
 * with the lab's own signal, and its argv stays an array. Whatever happens, `done` resolves.
 */
export function startDaemon(runner: Runner, spec: DaemonSpec): Daemon {
  const abort = new AbortController()
  const out = createWriteStream(spec.log, {flags: 'a'})
  const run = runner.run(spec.command, spec.args, {
    timeout: spec.timeoutMs,
    cancelSignal: abort.signal,
    env: {...spec.env, ...(spec.run ? {[RUN_ENV]: spec.run} : {})},
    reject: false,
    onLine: (line) => out.write(`${line}\n`),
  })
  const done: Promise<void> = run
    .then((r) => {
      daemon.ended = {code: r.exitCode}
    }, (error: Error) => {
      daemon.ended = {error: error.message}
    })
    .finally(() => new Promise<void>((resolve) => {
      out.end(resolve)
    }))
  const daemon: Daemon = {
    name: spec.name,
    log: spec.log,
    done,
    async stop() {
      if (!daemon.ended) abort.abort()
      await Promise.race([done, sleep(STOP_WAIT_MS, undefined, {ref: false})])
    },
  }
  return daemon
}
