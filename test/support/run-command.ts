import path from 'node:path'

export const PROJECT = path.resolve(import.meta.dirname, '../..')

/** Runs a command class as the CLI would (argv in, exit code out), without a child process. */
export async function runCommand(cmd: {run(argv?: string[], opts?: string): Promise<unknown>}, argv: string[]): Promise<{code: number, result?: unknown, error?: Error, stderr: string}> {
  let stderr = ''
  const write = process.stderr.write.bind(process.stderr)
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += String(chunk)
    return true
  }) as typeof process.stderr.write
  try {
    const result = await cmd.run(argv, PROJECT)
    return {code: 0, result, stderr}
  } catch (error) {
    const e = error as Error & {oclif?: {exit?: number}, exitCode?: number}
    // BaseCommand reports a pxeroot error on stderr and exits; keep that message as the error's.
    const message = /^pxeroot: (.*)$/m.exec(stderr)?.[1]
    return {code: e.oclif?.exit ?? e.exitCode ?? 1, error: message ? new Error(message) : e, stderr}
  } finally {
    process.stderr.write = write
    // BaseCommand sets process.exitCode for the real CLI; a failing case must not fail the test run.
    process.exitCode = undefined
  }
}
