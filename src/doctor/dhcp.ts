import {DHCP_SERVERS} from '../backends/registry.js'
import {interfaceHolding} from '../config/interfaces.js'
import {servesDhcp} from '../config/servers.js'
import {type SiteModel} from '../config/site.js'
import {type Context} from '../system/context.js'

/** What systemd says of one DHCP server's unit. */
export interface UnitState {
  unit: string
  enabled: boolean
  running: boolean
}

export interface DhcpVerdict {
  status: 'ok' | 'warn' | 'fail'
  message: string
  fix?: string
}

/**
 * Two DHCP servers must never answer on one network: the site's server enabled and running,
 * every other DHCP server pxeroot knows stopped and disabled. Pure.
 */
export function dhcpServersVerdict(site: SiteModel, states: readonly UnitState[]): DhcpVerdict {
  if (!servesDhcp(site)) {
    // ISC or dnsmasq on a site with several servers: the first one alone answers, and this is another.
    const on = states.filter((s) => s.enabled || s.running).map((s) => s.unit)
    return on.length === 0 ? {status: 'ok', message: `no DHCP server runs here: ${site.servers[0].name} alone answers (backends.dhcp: ${site.backends.dhcp} has no failover)`}
      : {status: 'fail', message: `stop ${on.join(', ')}: ${site.servers[0].name} alone answers DHCP for the site (backends.dhcp: ${site.backends.dhcp} has no failover), and two DHCP servers must never answer on one network`, fix: `systemctl disable --now ${on.join(' ')}`}
  }
  const wanted = DHCP_SERVERS[site.backends.dhcp].unit
  const mine = states.find((s) => s.unit === wanted) ?? {unit: wanted, enabled: false, running: false}
  const others = states.filter((s) => s.unit !== wanted && (s.enabled || s.running)).map((s) => s.unit)
  const missing = [mine.enabled ? '' : 'enabled', mine.running ? '' : 'running'].filter(Boolean)
  const problems = [
    ...others.map((u) => `stop ${u}: two DHCP servers must never answer on one network`),
    ...(missing.length > 0 ? [`enable ${wanted}: it is the site's DHCP server (backends.dhcp: ${site.backends.dhcp}) and is not ${missing.join(' or ')}`] : []),
  ]
  if (problems.length === 0) return {status: 'ok', message: `${wanted} runs, and no other DHCP server pxeroot knows is enabled or running`}
  const fix = [...(others.length > 0 ? [`systemctl disable --now ${others.join(' ')}`] : []), ...(missing.length > 0 ? [`systemctl enable --now ${wanted}`] : [])].join('; then ')
  return {status: 'fail', message: problems.join('; '), fix}
}

/**
 * Proxy mode with UEFI on: what the network's own DHCP server must send, which pxeroot cannot
 * check from here. Debian's signed GRUB takes its TFTP server from that server's DHCP answer
 * alone, never from the proxy's; without next-server it reads no grub.cfg and stops at grub>
 * (README, "Proxy mode"). Pure; nothing to say in full mode or without UEFI.
 */
export function proxyUefiVerdict(site: SiteModel): DhcpVerdict | undefined {
  if (site.dhcp.mode !== 'proxy' || !site.boot.firmware.includes('uefi')) return undefined
  const s = site.server
  return {
    status: 'warn',
    message: `proxy mode with UEFI: UEFI nodes boot only if the network's own DHCP server sends next-server ${s} (GRUB takes its TFTP server from that server's answer, not from pxeroot's proxy); pxeroot cannot check that server`,
    fix: `on the network's DHCP server set next-server ${s} for the nodes (ISC dhcpd: next-server ${s}; Kea: "next-server": "${s}"; dnsmasq: dhcp-boot=,,${s}), or set boot.firmware: [bios] if no node boots UEFI`,
  }
}

async function unitState(ctx: Context, unit: string): Promise<UnitState> {
  const ask = async (verb: string) => {
    const r = await ctx.runner.run('systemctl', [verb, '--quiet', `${unit}.service`], {reject: false, timeout: 10_000}).catch(() => ({exitCode: 1}))
    return r.exitCode === 0
  }
  return {unit, enabled: await ask('is-enabled'), running: await ask('is-active')}
}

/** Kea and dnsmasq serve one interface: it must exist here and hold the server address. */
async function interfaceVerdict(ctx: Context, site: SiteModel): Promise<DhcpVerdict | undefined> {
  const name = site.dhcp.interface
  if (site.backends.dhcp === 'isc' || !name) return undefined
  const r = await ctx.runner.run('ip', ['-o', '-4', 'addr', 'show'], {reject: false, timeout: 10_000}).catch(() => ({exitCode: 1, stdout: ''}))
  const holder = interfaceHolding(r.stdout, site.server)
  if (holder === name) return {status: 'ok', message: `${name} holds ${site.server}`}
  const listed = r.stdout.split('\n').some((l) => l.split(/\s+/)[1] === name)
  return {status: 'fail', message: `dhcp.interface ${name} ${listed ? `does not hold the server address ${site.server}` : 'does not exist or has no IPv4 address on this machine'}${holder ? `; ${holder} holds it` : ''}`,
    fix: holder ? `set dhcp.interface: ${holder} in /etc/pxeroot/pxeroot.yaml, then pxeroot apply` : `ip addr add ${site.server}/${site.net.prefixLength} dev ${name}`}
}

/** doctor's DHCP lines: which servers run, and the interface Kea or dnsmasq serves. */
export async function dhcpChecks(ctx: Context, site: SiteModel): Promise<{check: string, verdict: DhcpVerdict}[]> {
  const states = []
  for (const backend of Object.values(DHCP_SERVERS)) states.push(await unitState(ctx, backend.unit))
  const iface = await interfaceVerdict(ctx, site)
  return [{check: 'dhcp server', verdict: dhcpServersVerdict(site, states)}, ...(iface ? [{check: 'dhcp interface', verdict: iface}] : [])]
}
