/**
 * The one exit-code table. Every failure pxeroot reports is one of these classes, and
 * BaseCommand maps them to codes in one place, so cron and scripts can rely on the numbers.
 */
export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  precondition: 3,
  partial: 4,
  busy: 5,
  interrupted: 130,
} as const

export const EXIT_TABLE = `EXIT CODES
  0    done, or nothing to do
  1    failed (an external command or the system refused)
  2    usage, invalid input, or not enough disk (nothing was changed)
  3    precondition (not root, a tool missing, a needed file absent)
  4    partial (a bulk run where some items failed)
  5    busy (another pxeroot run holds the lock; nothing was changed)
  130  interrupted (Ctrl-C / SIGTERM; the last good state is kept)`

export class PxerootError extends Error {
  readonly exitCode: number = EXIT.failed
  readonly suggestion?: string
  /** What was done before the failure (per-item results of a bulk run): --json output keeps it. */
  readonly result?: unknown

  constructor(message: string, suggestion?: string, result?: unknown) {
    super(message)
    this.name = new.target.name
    this.suggestion = suggestion
    this.result = result
  }
}

/** Bad input from the user or a config file: names the field and the fix. */
export class UserError extends PxerootError {
  override readonly exitCode: number = EXIT.usage
}

/** A request that does not fit: not enough disk or inodes for what was asked. Refused before
 * anything is created, so it exits like any other request that cannot be carried out as asked. */
export class NoSpaceError extends UserError {}

export class PreconditionError extends PxerootError {
  override readonly exitCode: number = EXIT.precondition
}

export class BusyError extends PxerootError {
  override readonly exitCode: number = EXIT.busy
}

/** A bulk run where some items failed: carries what was done, so --json keeps the per-item results. */
export class PartialFailureError<T = unknown> extends PxerootError {
  override readonly exitCode: number = EXIT.partial
  declare readonly result: T

  constructor(message: string, result: T, suggestion?: string) {
    super(message, suggestion, result)
  }
}

export class InterruptedError extends PxerootError {
  override readonly exitCode: number = EXIT.interrupted
}

/** A process pxeroot ran failed; carries the argv and the tail of its stderr, never the whole log. */
export class ExternalCommandError extends PxerootError {
  constructor(
    readonly command: string,
    readonly args: readonly string[],
    readonly code: number | undefined,
    readonly stderrTail: string,
    message?: string,
  ) {
    super(message ?? `${[command, ...args].join(' ')} failed${code === undefined ? '' : ` (exit ${code})`}${stderrTail ? `: ${stderrTail}` : ''}`)
  }
}

/** A check of a rendered file by its daemon's own checker (dhcpd -t, exportfs) failed. */
export class ValidationError extends PxerootError {
  override readonly exitCode: number = EXIT.failed
}
