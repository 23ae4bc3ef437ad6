import {packagesFor} from '../backends/registry.js'
import {isIPv4} from '../config/address.js'
import {interfaceHolding} from '../config/interfaces.js'
import {zodProblems} from '../config/issues.js'
import {deriveSite, SiteSchema, siteProblems, type Site, type SiteInput} from '../config/site.js'
import {PreconditionError, UserError} from '../errors.js'
import {renderSiteFile} from '../render/site-file.js'
import {type Context} from '../system/context.js'
import {exists} from '../system/files.js'
import {STATE} from '../system/paths.js'

export interface InitOptions {
  site: SiteInput
  force?: boolean
  installPackages?: boolean
}

/** The flag that sets each site field, so init's errors name what the user typed. */
const FLAG_OF: Record<string, string> = {
  server: '--server', servers: '--servers', 'dhcp.ha.mode': '--ha-mode', subnet: '--subnet', router: '--router', dns: '--dns', domain: '--domain',
  'nodes.range': '--nodes', pool: '--pool', 'backends.nfs': '--nfs', 'boot.image': '--image', 'boot.transport': '--transport',
  'backends.dhcp': '--dhcp', 'dhcp.interface': '--interface', 'dhcp.mode': '--proxy',
}

function flagProblems(problems: string[]): string {
  return problems.map((p) => {
    const field = Object.keys(FLAG_OF).sort((a, b) => b.length - a.length).find((f) => p.startsWith(`${f}: `) || p.startsWith(`${f}.`))
    return field ? p.replace(field, FLAG_OF[field]) : p
  }).join('; ')
}

export interface InitResult {
  siteFile: string
  site: Site
  installed: string[]
}

/**
 * Kea and dnsmasq listen on one interface: unless given, the one of this machine that holds the
 * server address. Left unset when none does; the site's rules then ask for --interface.
 */
async function withInterface(ctx: Context, site: SiteInput): Promise<SiteInput> {
  const backend = site.backends?.dhcp ?? 'isc'
  // With several servers: the interface of the one this machine is (the others' are checked by doctor there).
  const addresses = [site.server, ...(site.servers ?? []).map((s) => s.address)].filter((a): a is string => a !== undefined && isIPv4(a))
  if (backend === 'isc' || site.dhcp?.interface || addresses.length === 0) return site
  const shown = await ctx.runner.run('ip', ['-o', '-4', 'addr', 'show'], {reject: false, timeout: 10_000}).catch(() => ({stdout: ''}))
  const held = addresses.map((a) => ({address: a, found: interfaceHolding(shown.stdout, a)})).find((h) => h.found)
  if (held) ctx.log(`${backend} will serve on ${held.found}, the interface that holds ${held.address} (--interface to choose another)`)
  return held ? {...site, dhcp: {...site.dhcp, interface: held.found}} : site
}

/** --servers boot1=10.0.0.11,boot2=10.0.0.12: the boot servers, in order (the first is Kea's primary). */
export function parseServersFlag(text: string): {name: string, address: string}[] {
  return text.split(',').map((s) => s.trim()).filter(Boolean).map((entry) => {
    const m = /^([^=\s]+)=(\S+)$/.exec(entry)
    if (!m) throw new UserError(`--servers: "${entry}" is not NAME=ADDRESS; write the boot servers as boot1=10.0.0.11,boot2=10.0.0.12`)
    return {name: m[1], address: m[2]}
  })
}

/** Writes the site file, with comments, from the init flags; refuses to overwrite one without --force. */
export async function initSite(ctx: Context, options: InitOptions): Promise<InitResult> {
  if (options.site.dhcp?.mode === 'proxy' && options.site.backends?.dhcp !== 'dnsmasq') {
    throw new UserError(`--proxy needs --dhcp dnsmasq: only dnsmasq answers PXE requests beside the network's own DHCP server`)
  }
  const parsed = SiteSchema.safeParse(await withInterface(ctx, options.site))
  if (!parsed.success) throw new UserError(flagProblems(zodProblems(parsed.error)))
  const site = deriveSite(parsed.data)
  const problems = siteProblems(site, parsed.data)
  if (problems.length > 0) throw new UserError(flagProblems(problems))
  if (options.installPackages && !ctx.root.isHost) {
    throw new UserError('--install-packages installs on this machine and cannot be combined with --root; drop one of them')
  }
  const file = ctx.root.resolve(STATE.siteFile)
  if (!options.force && await exists(file)) {
    throw new PreconditionError(`${STATE.siteFile} already exists`, 'edit it by hand, or run init again with --force to replace it')
  }
  const installed: string[] = []
  if (options.installPackages) {
    const pkgs = packagesFor(site)
    ctx.log(`installing ${pkgs.join(' ')}`)
    await ctx.runner.run('apt-get', ['install', '-y', '--no-install-recommends', ...pkgs], {env: {DEBIAN_FRONTEND: 'noninteractive'}, timeout: 30 * 60_000, cancelSignal: ctx.signal, onLine: ctx.log})
    installed.push(...pkgs)
  }
  await ctx.files.write(file, renderSiteFile(parsed.data), {mode: 0o644})
  ctx.log(`wrote ${STATE.siteFile}`)
  return {siteFile: STATE.siteFile, site: parsed.data, installed}
}
