import {promises as fs} from 'node:fs'
import YAML from 'yaml'

import {UserError, PreconditionError} from '../errors.js'
import {STATE, type Root} from '../system/paths.js'
import {zodProblems} from './issues.js'
import {deriveSite, SiteSchema, siteProblems, type SiteModel} from './site.js'

/** Parses the site file's text; pure. Every problem names the field; all are reported at once. */
export function parseSite(text: string, source = STATE.siteFile): SiteModel {
  let data: unknown
  try {
    data = YAML.parse(text)
  } catch (error) {
    throw new UserError(`${source}: not valid YAML: ${(error as Error).message.split('\n')[0]}`)
  }
  const parsed = SiteSchema.safeParse(data ?? {})
  if (!parsed.success) throw new UserError(`${source}: ${zodProblems(parsed.error).join('; ')}`)
  const site = deriveSite(parsed.data)
  const problems = siteProblems(site)
  if (problems.length > 0) throw new UserError(`${source}: ${problems.join('; ')}`)
  return site
}

export async function loadSite(root: Root): Promise<SiteModel> {
  const file = root.resolve(STATE.siteFile)
  const text = await fs.readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') throw new PreconditionError(`no site configuration at ${STATE.siteFile}`, 'run "pxeroot init --server ADDRESS --subnet NETWORK/LEN --nodes FIRST-LAST" first')
    throw error
  })
  return parseSite(text, STATE.siteFile)
}
