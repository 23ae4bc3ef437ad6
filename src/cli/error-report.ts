import {type PxerootError} from '../errors.js'

/** The one line a refusal prints on stderr: the message, then the fix in parentheses. */
export function errorLine(error: PxerootError): string {
  return `pxeroot: ${error.suggestion ? `${error.message} (${error.suggestion})` : error.message}\n`
}

/** The error object --json prints on stdout instead; a bulk run's per-item results ride along. */
export function errorJson(error: PxerootError): Record<string, unknown> {
  const result = error.result === undefined ? {} : {result: error.result}
  return {error: {code: error.exitCode, kind: error.name, message: error.message, suggestion: error.suggestion}, ...result}
}
