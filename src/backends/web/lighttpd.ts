import {promises as fs} from 'node:fs'
import path from 'node:path'

import {PreconditionError, ValidationError} from '../../errors.js'
import {renderLighttpdDropIn, renderLighttpdMain} from '../../render/web/lighttpd.js'
import {type Context} from '../../system/context.js'
import {readIfExists, withTempDir} from '../../system/files.js'
import {type Root} from '../../system/paths.js'
import {type ServiceBackend} from '../types.js'
import {lighttpdLab} from './lighttpd-lab.js'

export const LIGHTTPD_PATHS = {
  main: '/etc/lighttpd/lighttpd.conf',
  enabled: '/etc/lighttpd/conf-enabled',
  /** Named to be read last: its `:=` and access rules win over every snippet before it. */
  dropIn: '/etc/lighttpd/conf-enabled/99-pxeroot.conf',
} as const

/** How Debian's lighttpd.conf reads the enabled snippets: `include` (bookworm) or a script (older releases, Ubuntu). */
const ENABLED_INCLUDE = /^[ \t]*(include[ \t]+"\/etc\/lighttpd\/conf-enabled\/\*\.conf"|include_shell[ \t]+"\/usr\/share\/lighttpd\/include-conf-enabled\.pl")[ \t]*$/m

/** The other enabled snippets under the root, by name, in the order lighttpd reads them. */
async function otherSnippets(root: Root): Promise<{name: string, text: string}[]> {
  const dir = root.resolve(LIGHTTPD_PATHS.enabled)
  const names = (await fs.readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.conf') && n !== path.posix.basename(LIGHTTPD_PATHS.dropIn)).sort()
  const out: {name: string, text: string}[] = []
  for (const name of names) {
    // Enabled snippets are links into conf-available; a dangling one is skipped, as lighttpd's glob would fail on it anyway.
    const text = await readIfExists(path.join(dir, name)).catch(() => undefined)
    if (text) out.push({name, text: text.toString('utf8')})
  }
  return out
}

/** lighttpd's lines without their timestamp and source-file prefix. */
function reasons(output: string): string[] {
  return output.split('\n').map((l) => l.replace(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d: \([^)]*\) /, '').trim()).filter(Boolean)
}

/**
 * Checks the candidate drop-in with lighttpd itself (`-tt`: parses and loads the modules; writes
 * nothing, binds nothing). The candidate is the server's lighttpd.conf as it is, reading a temp
 * copy of conf-enabled where pxeroot's drop-in is the candidate, so a clash with the admin's own
 * snippets shows here; the reason names the real files. A key lighttpd would ignore (an access
 * rule without mod_access loaded) is refused too: the boot network limit would silently not hold.
 */
export async function checkLighttpd(ctx: Pick<Context, 'root' | 'runner' | 'files' | 'signal'>, dropIn: string): Promise<void> {
  const main = (await readIfExists(ctx.root.resolve(LIGHTTPD_PATHS.main)))?.toString('utf8') ?? renderLighttpdMain({include: `${LIGHTTPD_PATHS.enabled}/*.conf`})
  if (!ENABLED_INCLUDE.test(main)) {
    throw new ValidationError(`${LIGHTTPD_PATHS.main} does not read ${LIGHTTPD_PATHS.enabled}/*.conf, so lighttpd would never see pxeroot's ${LIGHTTPD_PATHS.dropIn}`,
      `put back Debian's line include "${LIGHTTPD_PATHS.enabled}/*.conf" in ${LIGHTTPD_PATHS.main}`)
  }
  await withTempDir(ctx.files, 'pxeroot-lighttpd-', async (dir) => {
    const hostPathOf = new Map<string, string>()
    for (const {name, text} of [...await otherSnippets(ctx.root), {name: path.posix.basename(LIGHTTPD_PATHS.dropIn), text: dropIn}]) {
      hostPathOf.set(await dir.write(`conf-enabled/${name}`, text), path.posix.join(LIGHTTPD_PATHS.enabled, name))
    }
    // One line for one line: lighttpd's line numbers in the main file stay the admin's.
    const candidate = await dir.write('lighttpd.conf', main.replace(ENABLED_INCLUDE, `include ${JSON.stringify(`${dir.file('conf-enabled')}/*.conf`)}`))
    hostPathOf.set(candidate, LIGHTTPD_PATHS.main)
    const result = await ctx.runner.run('lighttpd', ['-tt', '-f', candidate], {reject: false, timeout: 30_000, cancelSignal: ctx.signal}).catch((error: unknown) => {
      if (error instanceof PreconditionError) throw new PreconditionError('boot.transport is http, but lighttpd (the web server) is not installed', 'apt-get install lighttpd')
      throw error
    })
    const hostPaths = (line: string) => [...hostPathOf].sort((a, b) => b[0].length - a[0].length).reduce((l, [tmp, host]) => l.replaceAll(tmp, host), line)
    const lines = reasons(`${result.stdout}\n${result.stderr}`).map(hostPaths)
    const ignored = [...new Set(lines.map((l) => /unknown config-key: (\S+)/.exec(l)?.[1]))].filter((key): key is string => key !== undefined && dropIn.includes(`${key} `))
    if (result.exitCode !== 0) {
      const errors = lines.filter((l) => !/^WARNING/.test(l))
      throw new ValidationError(`lighttpd rejects the generated configuration: ${(errors.length > 0 ? errors : lines).slice(0, 3).join(' | ')}`, 'nothing was written; fix the setting it names')
    }
    if (ignored.length > 0) {
      throw new ValidationError(`lighttpd would ignore ${ignored.join(', ')} of ${LIGHTTPD_PATHS.dropIn} (unknown config-key): the boot files would be served without pxeroot's limits`,
        `load mod_access in ${LIGHTTPD_PATHS.main} (server.modules), as Debian's has it; nothing was written`)
    }
  })
}

/** lighttpd: pxeroot owns one drop-in in conf-enabled, which Debian's lighttpd.conf reads. */
export const lighttpd: ServiceBackend = {
  kind: 'web',
  name: 'lighttpd',
  label: 'lighttpd',
  daemon: 'lighttpd',
  packages: ['lighttpd'],
  unit: 'lighttpd',
  paths: [LIGHTTPD_PATHS.dropIn],
  adminFiles: [],
  files: (model) => [{path: LIGHTTPD_PATHS.dropIn, content: renderLighttpdDropIn(model.site), mode: 0o644}],
  retire: () => [],
  check: (ctx, candidate) => checkLighttpd(ctx, candidate.text(LIGHTTPD_PATHS.dropIn)!),
  // A graceful reload (lighttpd's unit sends SIGUSR1); the config was checked before it was written.
  reload: () => [{command: 'systemctl', args: ['try-reload-or-restart', 'lighttpd.service']}],
  lab: (env) => lighttpdLab(env, LIGHTTPD_PATHS.dropIn),
}
