import {compareDebianVersions} from './debian-version.js'
import {type ManifestView} from './manifest-view.js'

export interface PackageChange {
  name: string
  from: string
  to: string
}

export interface RevisionDiff {
  from: string
  to: string
  added: Array<{name: string, version: string}>
  removed: Array<{name: string, version: string}>
  upgraded: PackageChange[]
  /** Older version in `to` (a rollback of a package, or a pinned downgrade). */
  downgraded: PackageChange[]
  kernel?: {from: string, to: string}
  /** True when nothing differs in packages or kernel. */
  identical: boolean
}

/** What changed from revision `a` to revision `b`, from their manifests alone. Pure. */
export function diffManifests(a: ManifestView, b: ManifestView): RevisionDiff {
  const names = [...new Set([...Object.keys(a.packages), ...Object.keys(b.packages)])].sort()
  const result: RevisionDiff = {
    from: `${a.image}@${a.revision}`,
    to: `${b.image}@${b.revision}`,
    added: [],
    removed: [],
    upgraded: [],
    downgraded: [],
    identical: false,
  }
  for (const name of names) {
    const from = a.packages[name]
    const to = b.packages[name]
    if (from === undefined) result.added.push({name, version: to})
    else if (to === undefined) result.removed.push({name, version: from})
    else if (from !== to) (compareDebianVersions(to, from) > 0 ? result.upgraded : result.downgraded).push({name, from, to})
  }
  if (a.kernel !== b.kernel) result.kernel = {from: a.kernel, to: b.kernel}
  result.identical = !result.kernel && result.added.length + result.removed.length + result.upgraded.length + result.downgraded.length === 0
  return result
}

/** The diff as a reader wants it on a terminal: one line per change, grouped. Pure. */
export function formatDiff(diff: RevisionDiff): string {
  const lines = [`${diff.from} → ${diff.to}`]
  if (diff.identical) return `${lines[0]}: no package or kernel changes\n`
  if (diff.kernel) lines.push(`kernel: ${diff.kernel.from} → ${diff.kernel.to}`)
  const section = (title: string, rows: string[]) => {
    if (rows.length > 0) lines.push(`${title} (${rows.length}):`, ...rows.map((r) => `  ${r}`))
  }
  section('added', diff.added.map((p) => `+ ${p.name} ${p.version}`))
  section('removed', diff.removed.map((p) => `- ${p.name} ${p.version}`))
  section('upgraded', diff.upgraded.map((p) => `↑ ${p.name} ${p.from} → ${p.to}`))
  section('downgraded', diff.downgraded.map((p) => `↓ ${p.name} ${p.from} → ${p.to}`))
  return lines.join('\n') + '\n'
}
