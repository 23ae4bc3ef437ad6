import {Command, Flags, ux, type Interfaces} from '@oclif/core'

import {InterruptedError, PxerootError, UserError} from '../errors.js'
import {makeContext, type Context} from '../system/context.js'
import {argvProblem} from './argv-problem.js'
import {errorJson, errorLine} from './error-report.js'
import {type Runner} from '../system/runner.js'

/** The commands that change image revisions outside the site lock. */
/** Commands that change the site state outside the cluster's lock (an image's own lock; storage prepare makes the site an rbd one). */
const IMAGE_CHANGES = new Set(['storage:prepare', 'image:build', 'image:update', 'image:exec', 'image:shell', 'image:import', 'image:rollback', 'image:prune', 'image:rm'])

/** oclif's FlagOutput/ArgOutput, which its index does not export. */
type ParsedMap = {[name: string]: any}

/**
 * Global flags, the exit-code table, --json handling and signal ownership for every command.
 * SIGINT/SIGTERM abort one AbortController that reaches every process pxeroot started, so
 * cleanup in `finally` blocks runs and the command exits 130.
 */
export abstract class BaseCommand extends Command {
  static enableJsonFlag = true

  static baseFlags = {
    root: Flags.directory({
      description: 'resolve every path pxeroot reads or writes under this directory (tests, demos)',
      env: 'PXEROOT_ROOT',
      default: '/',
      helpGroup: 'GLOBAL',
    }),
  }

  protected abort = new AbortController()
  private onSignal = (signal: NodeJS.Signals) => {
    if (!this.abort.signal.aborted) this.abort.abort(new InterruptedError(`interrupted by ${signal}`))
  }

  /** Whatever goes wrong while reading argv is a usage error (exit 2) in one line, including
   * oclif's own parse errors (several lines, and under --json a dump of its internals) and its
   * argument parsers, which throw plain errors ("Expected an integer ..."). */
  protected async parse<F extends ParsedMap, B extends ParsedMap, A extends ParsedMap>(
    options?: Interfaces.Input<F, B, A>, argv?: string[],
  ): Promise<Interfaces.ParserOutput<F, B, A>> {
    try {
      return await super.parse(options, argv)
    } catch (error) {
      if (error instanceof PxerootError) throw error
      const known = Object.keys({...this.ctor.baseFlags, ...(options ?? this.ctor).flags, ...(this.ctor.enableJsonFlag ? {json: true} : {})})
      throw new UserError(argvProblem(error as Error, known), `see "${this.config.bin} ${(this.id ?? '').replaceAll(':', ' ')} --help"`)
    }
  }

  /** --json output. oclif colours it by cutting the whole text into tokens with regular
   * expressions, colours or not: ~60 ms of CPU for `nodes list --json` of 1,000 nodes, against
   * 1 ms for JSON.stringify. Without a theme that colours JSON, oclif's text is JSON.stringify's
   * with two spaces (what this prints); with one, oclif prints it. */
  protected logJson(json: unknown): void {
    if (this.config.theme?.json) super.logJson(json)
    else ux.stdout(JSON.stringify(json, null, 2))
  }

  /** The server of a site with several that this run acts as: `server` (a --server flag), else PXEROOT_SERVER. */
  protected makeContext(rootPrefix: string, options: {runner?: Runner, log?: (line: string) => void, server?: string} = {}): Context {
    const server = options.server ?? (process.env.PXEROOT_SERVER || undefined)
    const ctx = makeContext({root: rootPrefix, ...options, server, signal: this.abort.signal, json: this.jsonEnabled()})
    this.context = ctx
    return ctx
  }

  /** The context of this run, once made (what finally() stores the site state from). */
  private context?: Context

  public async init(): Promise<void> {
    await super.init()
    process.on('SIGINT', this.onSignal)
    process.on('SIGTERM', this.onSignal)
  }

  protected async finally(error: Error | undefined): Promise<void> {
    process.off('SIGINT', this.onSignal)
    process.off('SIGTERM', this.onSignal)
    // The image commands change revisions under the image's lock, not the site's, and storage prepare
    // --rbd ran under the lock of a site that was not yet an rbd one: on a site whose state is in its
    // cluster, what they changed is stored there now (config/site-lock.ts).
    // Loaded here, not at start-up: the site model and the cluster client are no part of `version` or `--help`.
    if (!error && this.context && IMAGE_CHANGES.has(this.id ?? '')) await (await import('../config/site-lock.js')).storeSiteState(this.context.root, this.id!.replace(':', ' '))
    return super.finally(error)
  }

  protected async catch(error: Error & {exitCode?: number}): Promise<unknown> {
    if (this.abort.signal.aborted && !(error instanceof PxerootError)) {
      error = this.abort.signal.reason as InterruptedError
    }
    if (error instanceof PxerootError) {
      // Bulk commands report what they did before failing (per-node results), so scripts keep it.
      if (this.jsonEnabled()) this.logJson(errorJson(error))
      else process.stderr.write(errorLine(error))
      process.exitCode = error.exitCode
      this.exit(error.exitCode)
    }
    return super.catch(error)
  }
}
