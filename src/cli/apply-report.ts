import {type ApplyResult} from '../apply/apply.js'

const ANSI = {red: '\u001B[31m', green: '\u001B[32m', cyan: '\u001B[36m', bold: '\u001B[1m', reset: '\u001B[0m'}

/** Whether human output on stdout gets colours: a terminal, and the user did not say NO_COLOR. */
export function colorOnStdout(): boolean {
  return Boolean(process.stdout.isTTY) && !process.env.NO_COLOR && process.env.TERM !== 'dumb'
}

/** A unified diff with its lines coloured as `git diff` colours them. */
export function colorDiff(diff: string): string {
  return diff.split('\n').map((line) => {
    if (/^(---|\+\+\+) /.test(line)) return `${ANSI.bold}${line}${ANSI.reset}`
    if (line.startsWith('@@')) return `${ANSI.cyan}${line}${ANSI.reset}`
    if (line.startsWith('+')) return `${ANSI.green}${line}${ANSI.reset}`
    if (line.startsWith('-')) return `${ANSI.red}${line}${ANSI.reset}`
    return line
  }).join('\n')
}

/** What a human reads after an apply (--json gets the ApplyResult itself): the diff coloured on a terminal. */
export function applyReport(result: ApplyResult, color = colorOnStdout()): string {
  if (result.dryRun) {
    if (result.diff === '') return 'Nothing to change.\n'
    const diff = color ? colorDiff(result.diff) : result.diff
    return `${diff}${result.diff.endsWith('\n') ? '' : '\n'}${result.changes.length} file(s) would change (dry run: nothing was written).\n`
  }
  const prepared = result.prepared ?? []
  if (result.changes.length === 0 && prepared.length === 0) return 'Nothing to change: the boot configuration is up to date.\n'
  const lines = [...result.changes.map((c) => `${c.action.padEnd(7)} ${c.path}`), ...prepared]
  if (result.reloadSkipped) lines.push(`Services not reloaded: ${result.reloadSkipped}.`)
  for (const r of result.reloads) lines.push(`${r.ok ? 'reloaded' : 'FAILED to reload'} ${r.service} (${r.action})${r.message ? `: ${r.message}` : ''}`)
  return lines.join('\n') + '\n'
}
