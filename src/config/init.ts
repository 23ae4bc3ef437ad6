import {type Context} from '../base-command.js'
import {PreconditionError, UserError} from '../errors.js'
import {renderSiteFile} from '../render/site-file.js'
import {exists, writeFileAtomic} from '../system/files.js'
import {STATE} from '../system/paths.js'
import {zodProblems} from './issues.js'
import {deriveSite, SiteSchema, siteProblems, type Site, type SiteInput} from './site.js'

export interface InitOptions {
  site: SiteInput
  force?: boolean
  installPackages?: boolean
}

/** The flag that sets each site field, so init's errors name what the user typed. */
const FLAG_OF: Record<string, string> = {
  server: '--server', subnet: '--subnet', router: '--router', dns: '--dns', domain: '--domain',
  'nodes.range': '--nodes', pool: '--pool', 'backends.nfs': '--nfs', 'boot.image': '--image',
}

function flagProblems(problems: string[]): string {
  return problems.map((p) => {
    const field = Object.keys(FLAG_OF).sort((a, b) => b.length - a.length).find((f) => p.startsWith(`${f}: `) || p.startsWith(`${f}.`))
    return field ? p.replace(field, FLAG_OF[field]) : p
  }).join('; ')
}

/** The Debian packages each backend needs on the server. */
export function packagesFor(site: Site): string[] {
  return [
    'isc-dhcp-server', 'tftpd-hpa', 'pxelinux', 'syslinux-common', 'debootstrap', 'rsync',
    ...(site.backends.nfs === 'kernel' ? ['nfs-kernel-server'] : ['nfs-ganesha', 'nfs-ganesha-vfs', 'rpcbind']),
  ]
}

export interface InitResult {
  siteFile: string
  site: Site
  installed: string[]
}

/** Writes the site file, with comments, from the init flags; refuses to overwrite one without --force. */
export async function initSite(ctx: Context, options: InitOptions): Promise<InitResult> {
  const parsed = SiteSchema.safeParse(options.site)
  if (!parsed.success) throw new UserError(flagProblems(zodProblems(parsed.error)))
  const problems = siteProblems(deriveSite(parsed.data))
  if (problems.length > 0) throw new UserError(flagProblems(problems))
  const site = parsed.data
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
  await writeFileAtomic(file, renderSiteFile(site), {mode: 0o644})
  ctx.log(`wrote ${STATE.siteFile}`)
  return {siteFile: STATE.siteFile, site, installed}
}
