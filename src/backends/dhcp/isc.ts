import path from 'node:path'

import {ValidationError} from '../../errors.js'
import {dhcpdIncludeLine, renderDhcpdInclude, renderDhcpdMain} from '../../render/dhcp/isc.js'
import {type Context} from '../../system/context.js'
import {isDirectory, tempNameFor} from '../../system/files.js'
import {includeIn, includeRetired, type IncludeEdit} from '../include.js'
import {parseIscLeases} from './leases.js'
import {type Candidate, type ServiceBackend} from '../types.js'
import {iscDhcpdLab} from './isc-lab.js'

export const ISC_PATHS = {
  include: '/etc/dhcp/pxeroot.conf',
  main: '/etc/dhcp/dhcpd.conf',
} as const

/** Where a line of the candidate came from: the admin's dhcpd.conf or pxeroot's include. */
interface LineOrigin {
  file: string
  line: number
}

/** dhcpd.conf with pxeroot's include inlined, and for each candidate line the file and line it came from. */
function inlineInclude(mainConf: string, include: string): {text: string, origins: LineOrigin[]} {
  const includeLine = dhcpdIncludeLine(ISC_PATHS.include)
  const lines: string[] = []
  const origins: LineOrigin[] = []
  mainConf.split('\n').forEach((l, i) => {
    if (l.trim() !== includeLine) {
      lines.push(l)
      origins.push({file: ISC_PATHS.main, line: i + 1})
      return
    }
    include.replace(/\n$/, '').split('\n').forEach((own, j) => {
      lines.push(own)
      origins.push({file: ISC_PATHS.include, line: j + 1})
    })
  })
  return {text: lines.join('\n'), origins}
}

/** dhcpd's banner and its closing advice: never a reason. */
const DHCPD_NOISE = /^(Internet Systems|Copyright|All rights|For info|Config file|Database file|PID file|Configuration file errors|If you think|than a configuration|bugs on either|before submitting|process and the|exiting)/

/**
 * dhcpd -t's first reason as one line, in the file and at the line where the mistake is: dhcpd
 * reports "FILE line N: problem", then the line as far as it read it, then a caret.
 */
function dhcpdReason(output: string, candidate: string, origins: readonly LineOrigin[], hostPath: (disk: string) => string): ValidationError {
  const lines = output.split('\n')
  const at = lines.findIndex((l) => / line \d+: /.test(l))
  if (at < 0) {
    const why = lines.map((l) => l.trim()).filter((l) => l && !DHCPD_NOISE.test(l)).slice(0, 2).join(' | ').replaceAll(candidate, ISC_PATHS.main)
    return new ValidationError(`dhcpd rejects the configuration: ${why || 'no reason given'}`, `run "dhcpd -t -cf ${ISC_PATHS.main}" to see it; pxeroot wrote nothing`)
  }
  const [, file, n, problem] = /^(.*) line (\d+): (.*?)\.?$/.exec(lines[at].trim())!
  const near = lines[at + 1]?.trim() ? ` near "${lines[at + 1].trim().slice(0, 60)}"` : ''
  if (file !== candidate) {
    // A file the admin's dhcpd.conf includes itself.
    const shown = file.startsWith('/') ? safeHostPath(hostPath, file) : file
    return new ValidationError(`dhcpd rejects ${shown} line ${n}: ${problem}${near}`, `that file is included by your ${ISC_PATHS.main}: fix line ${n} of ${shown} by hand, then run the command again; pxeroot wrote nothing`)
  }
  const origin = origins[Math.min(Number(n), origins.length) - 1] ?? {file: ISC_PATHS.main, line: Number(n)}
  if (origin.file === ISC_PATHS.main) {
    return new ValidationError(`dhcpd rejects ${ISC_PATHS.main} line ${origin.line}: ${problem}${near}; the mistake is in your own file, not pxeroot's`,
      `fix line ${origin.line} of ${ISC_PATHS.main} by hand, then run the command again; pxeroot wrote nothing`)
  }
  return new ValidationError(`dhcpd rejects pxeroot's ${ISC_PATHS.include} line ${origin.line}: ${problem}${near}`,
    'pxeroot renders that file from the site file and the inventory: check the value on that line there, then run "pxeroot apply" (which rewrites the file); pxeroot wrote nothing')
}

function safeHostPath(hostPath: (disk: string) => string, disk: string): string {
  try {
    return hostPath(disk)
  } catch {
    return disk
  }
}

/**
 * Checks the candidate dhcpd configuration with dhcpd itself, and reports its reason in the file
 * and at the line where the mistake is. The candidate is dhcpd.conf with pxeroot's include
 * inlined, written inside /etc/dhcp because dhcpd's AppArmor profile lets it read nothing else;
 * a root without /etc/dhcp has no such profile to satisfy, so there it goes to a temp dir and
 * the check creates nothing. Either way it is removed afterwards whatever happens.
 */
export async function checkDhcpd(ctx: Pick<Context, 'root' | 'runner' | 'files' | 'signal'>, mainConf: string, include: string): Promise<void> {
  const {text, origins} = inlineInclude(mainConf, include)
  const live = ctx.root.resolve(ISC_PATHS.include)
  const temp = await isDirectory(path.dirname(live)) ? undefined : await ctx.files.tempDir('pxeroot-dhcpd-')
  const candidate = temp ? temp.file(path.basename(live)) : tempNameFor(live)
  try {
    await ctx.files.write(candidate, text, {mode: 0o644, sync: false})
    // No -q: it hides every reason dhcpd gives.
    const result = await ctx.runner.run('dhcpd', ['-t', '-4', '-cf', candidate], {reject: false, timeout: 30_000, cancelSignal: ctx.signal})
    if (result.exitCode !== 0) throw dhcpdReason(`${result.stdout}\n${result.stderr}`, candidate, origins, (disk) => ctx.root.hostPath(disk))
  } finally {
    await (temp ? temp.remove() : ctx.files.remove(candidate))
  }
}

/** dhcpd.conf is the admin's; a server that has none gets one with the classic global options. */
function mainInclude(fresh = () => ''): IncludeEdit {
  return {path: ISC_PATHS.main, line: dhcpdIncludeLine(ISC_PATHS.include), fresh}
}

/** ISC dhcpd: pxeroot owns an include file and keeps one include line in the admin's dhcpd.conf. */
export const iscDhcpd: ServiceBackend = {
  kind: 'dhcp',
  name: 'isc',
  label: 'ISC dhcpd',
  daemon: 'dhcpd',
  packages: ['isc-dhcp-server'],
  unit: 'isc-dhcp-server',
  paths: [ISC_PATHS.include, ISC_PATHS.main],
  adminFiles: [ISC_PATHS.main],
  files: (model, admin) => [
    {path: ISC_PATHS.include, content: renderDhcpdInclude(model), mode: 0o644},
    includeIn(admin, mainInclude(() => renderDhcpdMain(model.site, ISC_PATHS.include))),
  ],
  retire: (admin) => includeRetired(admin, mainInclude()),
  async check(ctx, candidate: Candidate) {
    await checkDhcpd(ctx, candidate.text(ISC_PATHS.main)!, candidate.text(ISC_PATHS.include)!)
  },
  // dhcpd has no reload, but its config was checked before it was written, so the restart
  // cannot leave DHCP down; try-restart leaves a stopped service stopped.
  reload: () => [{command: 'systemctl', args: ['try-restart', 'isc-dhcp-server.service']}],
  leases: {files: ['/var/lib/dhcp/dhcpd.leases'], parse: parseIscLeases, reservations: false},
  lab: (env) => iscDhcpdLab(env, ISC_PATHS.main),
}
