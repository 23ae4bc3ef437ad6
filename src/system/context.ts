import {hostFiles, type Files} from './files.js'
import {makeRoot, type Root} from './paths.js'
import {execaRunner, type Runner} from './runner.js'

/**
 * What every service and domain module gets: where to work, how to run processes and write
 * files (both replaceable in tests), how to report progress, and when to stop. Defined here,
 * outside the oclif layer, so nothing below the commands depends on the CLI framework.
 */
export interface Context {
  root: Root
  runner: Runner
  files: Files
  /** Progress and log lines; always stderr, never mixed with --json results on stdout. */
  log: (line: string) => void
  signal: AbortSignal
  json: boolean
  /** On a site with several boot servers: the one this run acts as (--server, PXEROOT_SERVER); else found by its address. */
  server?: string
}

export function makeContext(options: Partial<Omit<Context, 'root'>> & {root?: Root | string} = {}): Context {
  const root = typeof options.root === 'string' || options.root === undefined ? makeRoot(options.root ?? '/') : options.root
  return {
    root,
    runner: options.runner ?? execaRunner(),
    files: options.files ?? hostFiles,
    log: options.log ?? ((line) => {
      process.stderr.write(`${line}\n`)
    }),
    signal: options.signal ?? new AbortController().signal,
    json: options.json ?? false,
    ...(options.server === undefined ? {} : {server: options.server}),
  }
}
