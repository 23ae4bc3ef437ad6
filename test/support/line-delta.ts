import {diffLines} from 'diff'

/** The lines a diff from one text to another removes and adds, in order: what a lab delta test compares. */
export function delta(from: string, to: string): {removed: string[], added: string[]} {
  const out = {removed: [] as string[], added: [] as string[]}
  for (const part of diffLines(from, to)) {
    const lines = part.value.replace(/\n$/, '').split('\n')
    if (part.removed) out.removed.push(...lines)
    if (part.added) out.added.push(...lines)
  }
  return out
}
