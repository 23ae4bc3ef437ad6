import {PreconditionError, ValidationError} from '../errors.js'
import {type Context} from '../system/context.js'
import {withTempDir} from '../system/files.js'

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
export async function checkWithCron(ctx: Pick<Context, 'runner' | 'files' | 'signal'>, systemCrontab: string): Promise<void> {
  await withTempDir(ctx.files, 'pxeroot-cron-', async (dir) => {
    const file = await dir.write('pxeroot', asUserCrontab(systemCrontab), 0o600)
    const result = await ctx.runner.run('crontab', ['-n', file], {reject: false, timeout: 30_000, cancelSignal: ctx.signal}).catch((error: unknown) => {
      if (error instanceof PreconditionError) throw new PreconditionError('cron is not installed, so a schedule would never run', 'apt-get install cron')
      throw error
    })
    if (result.exitCode !== 0) {
      const why = (result.stderr || result.stdout).split('\n').find((l) => /bad|error/i.test(l)) ?? 'syntax error'
      throw new ValidationError(`cron rejects the schedule file: ${why.replace(file, '/etc/cron.d/pxeroot')}`)
    }
  })
}
