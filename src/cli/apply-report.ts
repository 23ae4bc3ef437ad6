import {type ApplyResult} from '../apply/apply.js'

/** What a human reads after an apply; --json gets the ApplyResult itself. */
export function applyReport(result: ApplyResult): string {
  if (result.dryRun) {
    if (result.diff === '') return 'Nothing to change.\n'
    return `${result.diff}${result.diff.endsWith('\n') ? '' : '\n'}${result.changes.length} file(s) would change (dry run: nothing was written).\n`
  }
  const prepared = result.prepared ?? []
  if (result.changes.length === 0 && prepared.length === 0) return 'Nothing to change: the boot configuration is up to date.\n'
  const lines = [...result.changes.map((c) => `${c.action.padEnd(7)} ${c.path}`), ...prepared]
  if (result.reloadSkipped) lines.push(`Services not reloaded: ${result.reloadSkipped}.`)
  for (const r of result.reloads) lines.push(`${r.ok ? 'reloaded' : 'FAILED to reload'} ${r.service} (${r.action})${r.message ? `: ${r.message}` : ''}`)
  return lines.join('\n') + '\n'
}
