import {type BootModel} from '../../boot/model.js'
import {ValidationError} from '../../errors.js'
import {macBoundNodes} from '../../render/dhcp/common.js'
import {DNSMASQ_STATE, renderDnsmasqHosts, renderDnsmasqMain, renderDnsmasqUnit} from '../../render/dhcp/dnsmasq.js'
import {type Context} from '../../system/context.js'
import {withTempDir} from '../../system/files.js'
import {systemctl} from '../systemctl.js'
import {type Command, type ServiceBackend} from '../types.js'
import {dnsmasqLab} from './dnsmasq-lab.js'
import {parseDnsmasqLeases} from './leases.js'
import {locatedReason, type SettingRule} from './reasons.js'

/** pxeroot's own dnsmasq instance (dnsmasq-base ships no unit and no config of its own). */
export const DNSMASQ_PATHS = {
  main: '/etc/pxeroot/dnsmasq.conf',
  hosts: '/etc/pxeroot/dnsmasq-hosts',
  unit: '/etc/systemd/system/pxeroot-dnsmasq.service',
} as const

const UNIT = 'pxeroot-dnsmasq.service'

/**
 * dnsmasq reads a dhcp-host field of digits with an optional s/m/h/d/w as a lease time, and
 * "infinite" and "ignore" as keywords ("ignore": never answer that MAC), whatever its position:
 * a node with such a name would silently lose its name or its DHCP service.
 */
const MISREAD_NAME = /^(\d+[smhdw]?|infinite|ignore)$/

function misreadNames(model: BootModel): string[] {
  if (model.site.dhcp.mode === 'proxy') return []
  return macBoundNodes(model.nodes).filter((n) => MISREAD_NAME.test(n.name))
    .map((n) => `node ${JSON.stringify(n.name)}: dnsmasq reads a host name like "${n.name}" as ${/^\d/.test(n.name) ? 'a lease time' : `its keyword "${n.name}"`}, not a name; rename the node (e.g. node-${n.name})`)
}

/** Which setting a line of the generated files comes from, for dnsmasq's reasons. */
const SETTINGS: readonly SettingRule[] = [
  [/^interface=/, 'dhcp.interface'],
  [/^dhcp-range=.*,static,/, 'subnet and lease.default'],
  [/^dhcp-range=.*,proxy,/, 'subnet'],
  [/^dhcp-range=/, 'nodes.range, pool and lease.default'],
  [/^dhcp-option=option:router/, 'router'],
  [/^dhcp-option=option:dns-server/, 'dns'],
  [/^dhcp-option=option:domain-name/, 'domain'],
  [/^(dhcp-boot|pxe-service)=/, 'server and the published boot files'],
  [/^dhcp-host=([^,]+),[^,]*,(.+)$/, 'node $2 with mac $1'],
  [/^dhcp-host=([^,]+)/, 'the node with mac $1'],
]

/**
 * The main file with the hosts file's entries inlined as dhcp-host lines: `dnsmasq --test` parses
 * every option of its files but does not read a dhcp-hostsfile, so this is how both are checked.
 * Each line of the result remembers the file and line it came from.
 */
export function inlineHosts(main: string, hosts: string): {text: string, origin: {file: string, line: number, text: string}[]} {
  const origin: {file: string, line: number, text: string}[] = []
  const out: string[] = []
  main.replace(/\n$/, '').split('\n').forEach((line, i) => {
    if (line.trim() !== `dhcp-hostsfile=${DNSMASQ_PATHS.hosts}`) {
      out.push(line)
      origin.push({file: DNSMASQ_PATHS.main, line: i + 1, text: line})
      return
    }
    hosts.replace(/\n$/, '').split('\n').forEach((entry, j) => {
      if (!entry.trim() || entry.trimStart().startsWith('#')) return
      out.push(`dhcp-host=${entry.trim()}`)
      origin.push({file: DNSMASQ_PATHS.hosts, line: j + 1, text: `dhcp-host=${entry.trim()}`})
    })
  })
  return {text: out.join('\n') + '\n', origin}
}

/** Checks the candidate main and hosts files together with `dnsmasq --test`, which needs no interface and touches nothing. */
export async function checkDnsmasq(ctx: Pick<Context, 'runner' | 'files' | 'signal'>, main: string, hosts: string): Promise<void> {
  const {text, origin} = inlineHosts(main, hosts)
  await withTempDir(ctx.files, 'pxeroot-dnsmasq-', async (dir) => {
    const file = await dir.write('dnsmasq.conf', text)
    const result = await ctx.runner.run('dnsmasq', ['--test', '-C', file], {reject: false, timeout: 30_000, cancelSignal: ctx.signal})
    if (result.exitCode === 0) return
    const said = `${result.stderr}\n${result.stdout}`.split('\n').map((l) => l.trim()).find((l) => l.startsWith('dnsmasq: ')) ?? result.stderr.trim()
    const at = / at line (\d+) of (\S+)$/.exec(said)
    const reason = locatedReason(said.replace(/^dnsmasq: /, '').replace(/ at line \d+ of \S+$/, ''), at ? origin[Number(at[1]) - 1] : undefined, SETTINGS)
    throw new ValidationError(`dnsmasq rejects the generated configuration: ${reason}`, 'nothing was written; fix the setting it names')
  })
}

/**
 * How dnsmasq sees new files. The hosts file alone: a reload (SIGHUP rereads it; leases and the
 * process stay). The main file or the unit: a restart (SIGHUP does not reread the main file).
 * Switched away from: pxeroot's own unit is stopped and disabled.
 */
function dnsmasqReload(changed: readonly string[], retired: boolean): Command[] {
  if (retired) return [systemctl('stop', UNIT), systemctl('disable', UNIT), systemctl('daemon-reload')]
  const unit = changed.includes(DNSMASQ_PATHS.unit)
  if (unit || changed.includes(DNSMASQ_PATHS.main)) return [...(unit ? [systemctl('daemon-reload')] : []), systemctl('try-restart', UNIT)]
  return [systemctl('try-reload-or-restart', UNIT)]
}

/** dnsmasq (dnsmasq-base, DNS off): pxeroot owns the whole instance, full or proxy DHCP. */
export const dnsmasqDhcp: ServiceBackend = {
  kind: 'dhcp',
  name: 'dnsmasq',
  label: 'dnsmasq',
  daemon: 'dnsmasq',
  packages: ['dnsmasq-base'],
  unit: 'pxeroot-dnsmasq',
  paths: [DNSMASQ_PATHS.main, DNSMASQ_PATHS.hosts, DNSMASQ_PATHS.unit],
  // In proxy mode the network's own DHCP server holds the leases; this file stays empty.
  leases: {files: [DNSMASQ_STATE.leases], parse: parseDnsmasqLeases, reservations: true},
  adminFiles: [],
  files: (model) => [
    {path: DNSMASQ_PATHS.main, content: renderDnsmasqMain(model, DNSMASQ_PATHS.hosts), mode: 0o644},
    {path: DNSMASQ_PATHS.hosts, content: renderDnsmasqHosts(model), mode: 0o644},
    {path: DNSMASQ_PATHS.unit, content: renderDnsmasqUnit(DNSMASQ_PATHS.main), mode: 0o644},
  ],
  retire: () => [],
  problems: misreadNames,
  check: (ctx, candidate) => checkDnsmasq(ctx, candidate.text(DNSMASQ_PATHS.main)!, candidate.text(DNSMASQ_PATHS.hosts)!),
  reload: ({changed, retired}) => dnsmasqReload(changed, retired),
  lab: (env) => dnsmasqLab(env, DNSMASQ_PATHS),
}
