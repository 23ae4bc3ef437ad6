/**
 * Fakes for the two seams every service runs through (Context.runner and Context.files), so
 * the services' and the lab's decisions are tested without root, qemu or the daemons. Each
 * faked path also has a test against the real thing (apply.test.ts, lab/boot.test.ts...).
 */
import {hostFiles, type Files} from '../../src/system/files.js'
import {type RunOptions, type RunResult, type Runner} from '../../src/system/runner.js'

export interface FakeCall {
  command: string
  args: readonly string[]
}

/** A runner that records every call and answers from `answer` (default: exit 0, no output). */
export function fakeRunner(answer: (call: FakeCall, options: RunOptions) => Partial<RunResult> | undefined = () => undefined): Runner & {calls: FakeCall[]} {
  const calls: FakeCall[] = []
  return {
    calls,
    async run(command, args, options = {}) {
      const call = {command, args}
      calls.push(call)
      const r = {exitCode: 0, stdout: '', stderr: '', ...answer(call, options)}
      if (r.exitCode !== 0 && options.reject !== false) throw new Error(`${command} failed (exit ${r.exitCode}): ${r.stderr}`)
      return r
    },
  }
}

/** The host's files, except that writes fail with ENOSPC once `okWrites` have succeeded. */
export function diskFillingFiles(okWrites: number): Files & {writes: string[]} {
  const writes: string[] = []
  return {
    ...hostFiles,
    writes,
    async write(file, data, options) {
      if (writes.length >= okWrites) throw Object.assign(new Error(`ENOSPC: no space left on device, write '${file}'`), {code: 'ENOSPC'})
      writes.push(file)
      await hostFiles.write(file, data, options)
    },
  }
}
