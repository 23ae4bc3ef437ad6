/**
 * No import cycle between files under src/ (issue 20: doctor/checks.ts and doctor/web.ts imported
 * each other). layers.unit.test.ts rules out cycles between folders; this one rules them out
 * inside a folder too. Type-only imports count, as they do for the layers: a type is a dependency.
 */
import {describe, expect, it} from 'vitest'

import {importsOf, sources} from './source.js'

/** The cycles of a directed graph: each strongly connected component of more than one file (or a
 * file importing itself), as one path through it that ends where it starts. */
export function importCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const onStack = new Set<string>()
  const components: string[][] = []
  const connect = (v: string): void => {
    index.set(v, index.size)
    low.set(v, index.get(v)!)
    stack.push(v)
    onStack.add(v)
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        connect(w)
        low.set(v, Math.min(low.get(v)!, low.get(w)!))
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!))
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = []
      let w: string
      do {
        w = stack.pop()!
        onStack.delete(w)
        component.push(w)
      } while (w !== v)
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) components.push(component)
    }
  }
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) connect(v)
  // One readable cycle per component: from its first file, follow imports inside it back home.
  return components.map((component) => {
    const inside = new Set(component)
    const start = [...component].sort()[0]
    const path = [start]
    const seen = new Set([start])
    for (;;) {
      const next = (graph.get(path.at(-1)!) ?? []).filter((w) => inside.has(w))
      if (next.includes(start)) return [...path, start]
      const w = next.find((x) => !seen.has(x)) ?? next[0]
      path.push(w)
      seen.add(w)
    }
  })
}

describe('imports under src/', () => {
  it('form no cycle, type-only imports included', () => {
    const graph = new Map(sources().map((file) => [file.rel, [...new Set(importsOf(file).flatMap((i) => (i.target ? [i.target] : [])))]]))
    expect(importCycles(graph).map((cycle) => cycle.join(' → '))).toEqual([])
  })

  it('the check finds a cycle of two files and a longer one, and none in a tree', () => {
    const g = (edges: Record<string, string[]>) => new Map(Object.entries(edges))
    expect(importCycles(g({'doctor/checks.ts': ['doctor/web.ts'], 'doctor/web.ts': ['doctor/checks.ts']}))).toEqual([['doctor/checks.ts', 'doctor/web.ts', 'doctor/checks.ts']])
    expect(importCycles(g({a: ['b'], b: ['c'], c: ['a', 'd'], d: []}))).toEqual([['a', 'b', 'c', 'a']])
    expect(importCycles(g({a: ['b', 'c'], b: ['c'], c: []}))).toEqual([])
  })
})
