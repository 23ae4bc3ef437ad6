import {ValidationError} from '../../errors.js'
import {dhcpdIncludeLine, renderDhcpdInclude, renderDhcpdMain} from '../../render/dhcp/isc.js'
import {type Context} from '../../system/context.js'
import {tempNameFor} from '../../system/files.js'
import {includeIn, includeRetired, type IncludeEdit} from '../include.js'
import {type Candidate, type ServiceBackend} from '../types.js'
import {iscDhcpdLab} from './isc-lab.js'

export const ISC_PATHS = {
  include: '/etc/dhcp/pxeroot.conf',
  main: '/etc/dhcp/dhcpd.conf',
} as const

/**
 * Checks the candidate dhcpd configuration with dhcpd itself. The candidate is dhcpd.conf with
 * pxeroot's include inlined, written inside /etc/dhcp because dhcpd's AppArmor profile lets it
 * read nothing else; it is removed afterwards whatever happens.
 */
export async function checkDhcpd(ctx: Pick<Context, 'root' | 'runner' | 'files' | 'signal'>, mainConf: string, include: string): Promise<void> {
  const line = dhcpdIncludeLine(ISC_PATHS.include)
  const inlined = mainConf.split('\n').map((l) => (l.trim() === line ? include : l)).join('\n')
  const candidate = tempNameFor(ctx.root.resolve(ISC_PATHS.include))
  await ctx.files.write(candidate, inlined, {mode: 0o644, sync: false})
  try {
    const result = await ctx.runner.run('dhcpd', ['-t', '-4', '-q', '-cf', candidate], {reject: false, timeout: 30_000, cancelSignal: ctx.signal})
    if (result.exitCode !== 0) {
      const why = `${result.stdout}\n${result.stderr}`.split('\n').map((l) => l.trim())
        .filter((l) => l && !/^(Internet Systems|Copyright|All rights|For info|Config file|Database file|PID file|Configuration file errors)/.test(l))
      throw new ValidationError(`dhcpd rejects the generated configuration: ${why.slice(0, 4).join(' | ').replaceAll(candidate, ISC_PATHS.main)}`, 'nothing was written; fix the setting it names')
    }
  } finally {
    await ctx.files.remove(candidate)
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
  lab: (env) => iscDhcpdLab(env, ISC_PATHS.main),
}
