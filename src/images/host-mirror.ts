import {promises as fs} from 'node:fs'
import path from 'node:path'

/** One "deb" source of the host's apt configuration. */
export interface AptSource {
  uri: string
  suites: string[]
}

/** Parses a one-line-style sources.list; pure. Options in [brackets] are skipped. */
export function parseSourcesList(text: string): AptSource[] {
  const out: AptSource[] = []
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim()
    if (!line.startsWith('deb ') && !line.startsWith('deb\t')) continue
    const words = line.replace(/\[[^\]]*\]/, ' ').split(/\s+/).slice(1)
    if (words.length >= 2) out.push({uri: words[0], suites: [words[1]]})
  }
  return out
}

/** Parses deb822 .sources stanzas; pure. Stanzas with Enabled: no or without Types: deb are skipped. */
export function parseDeb822Sources(text: string): AptSource[] {
  const out: AptSource[] = []
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>()
    let last: string | undefined
    for (const line of stanza.split('\n')) {
      if (line.startsWith('#')) continue
      if (/^\s/.test(line) && last) {
        fields.set(last, `${fields.get(last)} ${line.trim()}`)
        continue
      }
      const m = /^([A-Za-z-]+):\s*(.*)$/.exec(line)
      if (m) {
        last = m[1].toLowerCase()
        fields.set(last, m[2].trim())
      }
    }
    const types = (fields.get('types') ?? '').split(/\s+/)
    if (!types.includes('deb') || /^no$/i.test(fields.get('enabled') ?? '')) continue
    const suites = (fields.get('suites') ?? '').split(/\s+/).filter(Boolean)
    for (const uri of (fields.get('uris') ?? '').split(/\s+/).filter(Boolean)) out.push({uri, suites})
  }
  return out
}

/**
 * Picks the Debian mirror (and security mirror) the host itself uses; pure. A source listing the
 * wanted suite wins; otherwise any release suite (one without "-updates"/"-security") of a Debian archive.
 */
export function pickDebianMirror(sources: AptSource[], suite: string): {mirror: string, securityMirror?: string} | undefined {
  const debianish = sources.filter((s) => /debian/i.test(s.uri))
  const release = (s: AptSource) => !/security/i.test(s.uri) && s.suites.some((x) => !x.includes('-') && !x.includes('/'))
  const main = debianish.find((s) => s.suites.includes(suite) && release(s)) ?? debianish.find(release)
  if (!main) return undefined
  const security = debianish.find((s) => s.suites.some((x) => x.endsWith('-security')))
  return {mirror: main.uri.replace(/\/+$/, ''), securityMirror: security?.uri.replace(/\/+$/, '')}
}

/**
 * The host's Debian mirror from its own apt sources. Deliberately the real host's /etc (not under
 * --root): the mirror the server can reach is a fact about the machine, not about the site.
 */
export async function hostDebianMirror(suite: string, etc = '/etc'): Promise<{mirror: string, securityMirror?: string} | undefined> {
  const osRelease = await fs.readFile(path.join(etc, 'os-release'), 'utf8').catch(() => '')
  if (!/^ID=("?)debian\1$/m.test(osRelease)) return undefined
  const sources: AptSource[] = []
  sources.push(...parseSourcesList(await fs.readFile(path.join(etc, 'apt/sources.list'), 'utf8').catch(() => '')))
  const dir = path.join(etc, 'apt/sources.list.d')
  for (const name of (await fs.readdir(dir).catch(() => [] as string[])).sort()) {
    const text = await fs.readFile(path.join(dir, name), 'utf8').catch(() => '')
    if (name.endsWith('.list')) sources.push(...parseSourcesList(text))
    else if (name.endsWith('.sources')) sources.push(...parseDeb822Sources(text))
  }
  return pickDebianMirror(sources, suite)
}
