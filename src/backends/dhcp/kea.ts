import path from 'node:path'

import {INTERFACE_NAME} from '../../config/names.js'
import {PreconditionError, ValidationError} from '../../errors.js'
import {KEA_STATE, parseKeaConfig, renderKeaConfig, renderKeaDropIn} from '../../render/dhcp/kea.js'
import {type Context} from '../../system/context.js'
import {exists, withTempDir} from '../../system/files.js'
import {runIsolated} from '../../system/isolate.js'
import {systemctl} from '../systemctl.js'
import {type Command, type ServiceBackend} from '../types.js'
import {keaLab} from './kea-lab.js'
import {parseKeaLeases} from './leases.js'
import {locatedReason, type SettingRule} from './reasons.js'

/**
 * pxeroot's Kea files. The config's name matters: Debian's AppArmor profile for kea-dhcp4 lets it
 * read /etc/kea/** and write only the pid file /run/kea/kea-dhcp4.kea-dhcp4.pid, and Kea names its
 * pid file after the config's base name. /etc/kea/pxeroot-dhcp4.conf would make Kea write
 * pxeroot-dhcp4.kea-dhcp4.pid, which the profile denies; a kea-dhcp4.conf in a directory of its
 * own is read and keeps the allowed pid file, and the admin's /etc/kea/kea-dhcp4.conf is untouched.
 */
export const KEA_PATHS = {
  config: '/etc/kea/pxeroot/kea-dhcp4.conf',
  dropIn: '/etc/systemd/system/kea-dhcp4-server.service.d/pxeroot.conf',
} as const

const UNIT = 'kea-dhcp4-server.service'

/** Which setting a line of the generated config comes from, for Kea's reasons. */
const SETTINGS: readonly SettingRule[] = [
  [/"interfaces-config"/, 'dhcp.interface'],
  [/"max-valid-lifetime"/, 'lease.max'],
  [/"valid-lifetime"/, 'lease.default'],
  [/"pools"/, 'nodes.range and pool'],
  [/"routers"/, 'router'],
  [/"domain-name-servers"/, 'dns'],
  [/"domain-name"/, 'domain'],
  [/"next-server"/, 'server'],
  [/"(high-availability|this-server-name|peers|url|role|heartbeat-delay|max-response-delay|max-unacked-clients)"/, 'servers and dhcp.ha'],
  [/"subnet"/, 'subnet'],
  [/"hw-address": "([^"]+)".*"hostname": "([^"]+)"/, 'node $2 with mac $1'],
]

/** Kea's own reason, its file:line:column made the live file's line and the setting behind it. */
function keaReason(output: string, config: string): string {
  const lines = output.split('\n').map((l) => l.trim()).filter(Boolean)
  const reason = lines.find((l) => l.startsWith('Error encountered: '))?.replace('Error encountered: ', '')
    || lines.filter((l) => / ERROR /.test(l)).map((l) => l.replace(/^.* ERROR \[[^\]]*\] /, '')).join(' | ')
    || lines.slice(-2).join(' | ')
  const configLines = config.split('\n')
  // Errors carry file:line.column or (file:line:column); a refused reservation names its MAC or address.
  const place = new RegExp(` ?\\(?${KEA_PATHS.config.replaceAll('.', '\\.')}:(\\d+)[.:]\\d+\\)?:?`, 'g')
  const at = [...reason.matchAll(place)].at(-1)
  const named = [...reason.matchAll(/\d+\.\d+\.\d+\.\d+|(?:[0-9a-f]{2}:){5}[0-9a-f]{2}/g)].map((m) => `"${m[0]}"`)
  const line = at ? Number(at[1]) : configLines.findLastIndex((l) => /"hw-address"/.test(l) && named.some((n) => l.includes(n))) + 1
  const text = configLines[line - 1]
  return locatedReason(reason.replaceAll(place, ' ').replaceAll(/\s+/g, ' ').trim(), line > 0 && text !== undefined ? {file: KEA_PATHS.config, line, text} : undefined, SETTINGS)
}

/** The interfaces a config names; none when it does not parse (kea-dhcp4 -t then says why). */
function interfacesOf(config: string): string[] {
  try {
    const listed = (parseKeaConfig(config).Dhcp4['interfaces-config'] as {interfaces?: unknown} | undefined)?.interfaces
    return Array.isArray(listed) ? listed.filter((i): i is string => typeof i === 'string' && INTERFACE_NAME.test(i)) : []
  } catch {
    return []
  }
}

/**
 * Checks the candidate with `kea-dhcp4 -t`, exactly as it will be written, in private mount and
 * network namespaces: the candidate is seen at its live path (the only place the AppArmor
 * profile lets Kea read), and the interface it names is created there, since `-t` refuses an
 * interface that does not exist; pxeroot's doctor checks the host's interface itself.
 */
export async function checkKea(ctx: Pick<Context, 'runner' | 'files' | 'signal'>, config: string): Promise<void> {
  // The host's Kea checks the candidate, whatever --root is: /etc/kea here is the host's.
  if (!await exists('/etc/kea')) throw new PreconditionError('kea-dhcp4 is not installed (no /etc/kea)', 'apt-get install kea-dhcp4-server')
  const iface = interfacesOf(config)
  await withTempDir(ctx.files, 'pxeroot-kea-', async (dir) => {
    await dir.write(path.posix.relative('/etc/kea', KEA_PATHS.config), config)
    const result = await runIsolated(ctx.runner, {
      binds: [[dir.path, '/etc/kea']],
      tmpfs: ['/run/kea', '/run/lock/kea', '/var/lib/kea', '/var/log/kea'],
      network: true,
      interfaces: iface,
    }, ['kea-dhcp4', '-t', KEA_PATHS.config], {reject: false, timeout: 30_000, cancelSignal: ctx.signal})
    if (result.exitCode === 127) throw new PreconditionError('kea-dhcp4 is not installed', 'apt-get install kea-dhcp4-server')
    if (result.exitCode !== 0) {
      throw new ValidationError(`kea-dhcp4 rejects the generated configuration: ${keaReason(`${result.stdout}\n${result.stderr}`, config)}`, 'nothing was written; fix the setting it names')
    }
  })
}

/**
 * How Kea sees new files. Its config alone: a reload (the drop-in's ExecReload sends SIGHUP, on
 * which kea-dhcp4 rereads its file and keeps its leases). The drop-in: systemd rereads units and
 * Kea restarts on the file the unit now names. Switched away from: the same restart, onto the
 * admin's own kea-dhcp4.conf, so it stops answering for the boot network.
 */
function keaReload(changed: readonly string[], retired: boolean): Command[] {
  if (retired || changed.includes(KEA_PATHS.dropIn)) return [systemctl('daemon-reload'), systemctl('try-restart', UNIT)]
  return [systemctl('try-reload-or-restart', UNIT)]
}

/** Kea: pxeroot owns a complete configuration and a drop-in that points Debian's unit at it. */
export const keaDhcp: ServiceBackend = {
  kind: 'dhcp',
  name: 'kea',
  label: 'Kea DHCPv4',
  daemon: 'kea-dhcp4',
  packages: ['kea-dhcp4-server'],
  unit: 'kea-dhcp4-server',
  paths: [KEA_PATHS.config, KEA_PATHS.dropIn],
  leases: {files: [`${KEA_STATE.leases}.2`, `${KEA_STATE.leases}.1`, KEA_STATE.leases], parse: parseKeaLeases, reservations: true},
  adminFiles: [],
  files: (model) => [
    {path: KEA_PATHS.config, content: renderKeaConfig(model), mode: 0o644},
    {path: KEA_PATHS.dropIn, content: renderKeaDropIn(KEA_PATHS.config), mode: 0o644},
  ],
  retire: () => [],
  check: (ctx, candidate) => checkKea(ctx, candidate.text(KEA_PATHS.config)!),
  reload: ({changed, retired}) => keaReload(changed, retired),
  lab: (env) => keaLab(env, KEA_PATHS.config),
}
