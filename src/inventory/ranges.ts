import {UserError} from '../errors.js'
import {byName, type Inventory, type InventoryNode} from './inventory.js'

/**
 * The inventory's nodes that command-line words name, in inventory order, each once: names, and
 * ranges FIRST..LAST of names that differ only in a number at the end ("node01..node10", as
 * xCAT and Warewulf write them), inclusive, every name between them by that number. A name the
 * inventory does not have is refused, never skipped: "node01..node10" where node05 is missing
 * says so. Pure.
 */
export function selectNodes(inventory: Inventory, words: readonly string[], flag = 'NODE'): InventoryNode[] {
  const byNameMap = new Map(inventory.nodes.map((n) => [n.name, n]))
  const wanted = new Set<string>()
  const missing: string[] = []
  for (const word of words) {
    for (const name of expandRange(word, flag)) {
      if (byNameMap.has(name)) wanted.add(name)
      else missing.push(name)
    }
  }
  if (missing.length > 0) {
    throw new UserError(`${flag}: ${missing.length === 1 ? `${missing[0]} is` : `${missing.join(', ')} are`} not in the inventory`, 'see "pxeroot nodes list"')
  }
  return [...inventory.nodes].sort(byName).filter((n) => wanted.has(n.name))
}

/** The names a word stands for: itself, or every name of a FIRST..LAST range; pure. */
export function expandRange(word: string, flag = 'NODE'): string[] {
  if (!word.includes('..')) return [word]
  const m = /^([a-z][a-z0-9-]*?)(\d+)\.\.([a-z][a-z0-9-]*?)(\d+)$/.exec(word)
  if (!m || m[1] !== m[3]) throw new UserError(`${flag}: "${word}" is not a range of node names`, 'write it as node01..node10: the same name with a number at the end')
  const [, prefix, from, , to] = m
  const first = Number(from)
  const last = Number(to)
  if (last < first) throw new UserError(`${flag}: "${word}" runs backwards`, `write it as ${prefix}${to}..${prefix}${from}`)
  if (last - first >= 100_000) throw new UserError(`${flag}: "${word}" names more than 100000 nodes`)
  const width = from.length === to.length ? from.length : 0
  return Array.from({length: last - first + 1}, (_, i) => `${prefix}${String(first + i).padStart(width, '0')}`)
}
