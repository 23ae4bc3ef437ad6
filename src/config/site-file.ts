import {promises as fs} from 'node:fs'
import {UserError, PreconditionError} from '../errors.js'
import {STATE, type Root} from '../system/paths.js'
import {parseYamlFile} from './issues.js'
import {deriveSite, SiteSchema, siteProblems, type SiteModel} from './site.js'
import {refreshSiteState} from './site-state.js'

/** Parses the site file's text; pure. Every problem names the field; all are reported at once. */
export function parseSite(text: string, source = STATE.siteFile): SiteModel {
  const parsed = parseYamlFile(SiteSchema, text, source)
  const site = deriveSite(parsed)
  const problems = siteProblems(site, parsed)
  if (problems.length > 0) throw new UserError(`${source}: ${problems.join('; ')}`)
  return site
}

export async function loadSite(root: Root): Promise<SiteModel> {
  const site = await readSite(root)
  // A site whose state is in its cluster: this server's copy, brought up to the cluster's once per run.
  return await refreshSiteState(root, site) ? readSite(root) : site
}

/** The site file as this server has it, without bringing it up to the cluster's first. */
export async function readSite(root: Root): Promise<SiteModel> {
  const file = root.resolve(STATE.siteFile)
  const text = await fs.readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') throw new PreconditionError(`no site configuration at ${STATE.siteFile}`, 'run "pxeroot init --server ADDRESS --subnet NETWORK/LEN --nodes FIRST-LAST" first')
    throw error
  })
  return parseSite(text, STATE.siteFile)
}
