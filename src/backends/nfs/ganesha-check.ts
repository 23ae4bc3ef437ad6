import {ExternalCommandError, PreconditionError, ValidationError} from '../../errors.js'
import {type Context} from '../../system/context.js'
import {readIfExists, withTempDir} from '../../system/files.js'
import {runIsolated} from '../../system/isolate.js'
import {mapGaneshaIncludes} from './ganesha-conf.js'

/** Ganesha reads its whole configuration in well under a second; this bounds a stuck start. */
const CHECK_MS = 20_000

/** Lines that only count the errors reported on the lines before them. */
const SUMMARY = [/\d+ \([^)]*\) errors found block/, /\d+ validation errors in block/, /Errors processing block/, /\d+ errors while processing parameters for/]

/**
 * Not the configuration's fault: an export whose directory does not exist (yet) or cannot be
 * resolved (a btrfs subvolume Ganesha does not see), and the RADOS backend Debian leaves out.
 */
const NOT_CONFIG = [/Could not create export for/, /Missing RADOS URLs/]

/**
 * Ganesha's reasons for refusing a configuration, from its log: the parser's and the export
 * checks' CONFIG lines (unknown parameters and tokens, bad values, syntax errors), with the
 * candidate's temporary file names replaced by the host paths they stand for.
 */
export function ganeshaConfigErrors(log: string, names: ReadonlyMap<string, string>): string[] {
  const lines = log.split('\n').filter((l) => / :CONFIG :(WARN|CRIT|MAJ|FATAL) :/.test(l) && !NOT_CONFIG.some((p) => p.test(l)))
  const reason = (l: string) => {
    let text = l.replace(/^.*? :CONFIG :\w+ :/, '').trim()
      .replace(/^Config [Ff]ile \(([^)]*)\)(?: error)?:\s*/, '$1: ')
    for (const [from, to] of names) text = text.replaceAll(from, to)
    return text
  }
  const details = lines.filter((l) => !SUMMARY.some((p) => p.test(l))).map(reason)
  if (details.length > 0) return [...new Set(details)]
  // Only counts, and not from an export whose directory is missing: report the counts.
  const pathTrouble = log.split('\n').some((l) => NOT_CONFIG[0].test(l))
  return pathTrouble ? [] : [...new Set(lines.map(reason))]
}

/**
 * Checks the candidate NFS-Ganesha configuration with Ganesha itself, which has no test mode:
 * ganesha.nfsd is started on the candidate main file and export file in throwaway mount and
 * network namespaces (a private /run and /var/lib/nfs, no interface up, no rpcbind to register
 * with), where it reads its whole configuration, logs every error, and then stops by itself
 * when it cannot register with rpcbind; a start that hangs is ended by PID at the bound. Its
 * CONFIG errors (unknown keys, bad values) refuse the candidate in Ganesha's own words.
 */
export async function checkGanesha(ctx: Pick<Context, 'root' | 'runner' | 'files' | 'signal'>, candidate: {main: string, exports: string}, paths: {main: string, exports: string}): Promise<void> {
  await withTempDir(ctx.files, 'pxeroot-ganesha-', async (dir) => {
    const exportsFile = await dir.write('pxeroot.conf', candidate.exports)
    const mainText = mapGaneshaIncludes(candidate.main, (f) => (f === paths.exports ? exportsFile : ctx.root.resolve(f)))
    const mainFile = await dir.write('ganesha.conf', mainText)
    const log = dir.file('ganesha.log')
    const argv = ['ganesha.nfsd', '-F', '-L', log, '-f', mainFile, '-p', dir.file('ganesha.pid')]
    let exitCode: number | undefined
    try {
      const r = await runIsolated(ctx.runner, {tmpfs: ['/run', '/var/lib/nfs', '/var/lib/nfs/ganesha'], network: true}, argv, {reject: false, timeout: CHECK_MS, cancelSignal: ctx.signal})
      exitCode = r.exitCode
    } catch (error) {
      // Bounded: a Ganesha that kept running was stopped at CHECK_MS; its log says what it read.
      if (!(error instanceof ExternalCommandError) || ctx.signal.aborted) throw error
    }
    const text = (await readIfExists(log))?.toString('utf8') ?? ''
    if (exitCode === 127 || !text.includes('Starting: Ganesha')) {
      throw new PreconditionError(`NFS-Ganesha could not be started to check the generated configuration${text ? `: ${text.trim().split('\n').at(-1)}` : ''}`, 'apt-get install nfs-ganesha nfs-ganesha-vfs')
    }
    const errors = ganeshaConfigErrors(text, new Map([[exportsFile, paths.exports], [mainFile, paths.main]]))
    if (errors.length > 0) {
      throw new ValidationError(`NFS-Ganesha rejects the generated configuration: ${errors.slice(0, 4).join(' | ')}`, 'nothing was written; fix the setting it names')
    }
  })
}
