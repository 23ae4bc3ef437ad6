import {packagesFor} from '../backends/registry.js'
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
  server: '--server', subnet: '--subnet', router: '--router', dns: '--dns', domain: '--domain',
  'nodes.range': '--nodes', pool: '--pool', 'backends.nfs': '--nfs', 'boot.image': '--image', 'boot.transport': '--transport',
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

/** Writes the site file, with comments, from the init flags; refuses to overwrite one without --force. */
export async function initSite(ctx: Context, options: InitOptions): Promise<InitResult> {
  const parsed = SiteSchema.safeParse(options.site)
  if (!parsed.success) throw new UserError(flagProblems(zodProblems(parsed.error)))
  const site = deriveSite(parsed.data)
  const problems = siteProblems(site)
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
