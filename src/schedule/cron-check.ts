import {promises as fs} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {PreconditionError, ValidationError} from '../errors.js'
import {type Runner} from '../system/runner.js'

/**
 * A cron.d file as a user crontab: the same lines without the user field, which is the form
 * `crontab -n` (Debian cron's dry-run syntax check) reads. Pure.
 */
export function asUserCrontab(systemCrontab: string): string {
  return systemCrontab.split('\n').map((line) => {
    if (line.startsWith('#') || line.trim() === '' || /^[A-Za-z_][A-Za-z0-9_]*=/.test(line)) return line
    const fields = line.startsWith('@') ? 1 : 5
    const words = line.split(/(\s+)/)
    // words alternates token, separator: drop the token after the schedule fields, and its separator.
    words.splice(fields * 2, 2)
    return words.join('')
  }).join('\n')
}

/** cron's own parser on the candidate file, before it is installed. */
export async function checkWithCron(runner: Runner, systemCrontab: string, signal?: AbortSignal): Promise<void> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pxeroot-cron-'))
  try {
    const file = path.join(dir, 'pxeroot')
    await fs.writeFile(file, asUserCrontab(systemCrontab), {mode: 0o600})
    const result = await runner.run('crontab', ['-n', file], {reject: false, timeout: 30_000, cancelSignal: signal}).catch((error: unknown) => {
      if (error instanceof PreconditionError) throw new PreconditionError('cron is not installed, so a schedule would never run', 'apt-get install cron')
      throw error
    })
    if (result.exitCode !== 0) {
      const why = (result.stderr || result.stdout).split('\n').find((l) => /bad|error/i.test(l)) ?? 'syntax error'
      throw new ValidationError(`cron rejects the schedule file: ${why.replace(file, '/etc/cron.d/pxeroot')}`)
    }
  } finally {
    await fs.rm(dir, {recursive: true, force: true})
  }
}
