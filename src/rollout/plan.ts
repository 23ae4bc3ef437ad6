import {UserError} from '../errors.js'
import {parseRevisionRef} from '../images/layout.js'
import {byName, type Inventory} from '../inventory/inventory.js'

/** A node the rollout moves: the revision its root is on, and the one it goes to. */
export interface Move {
  name: string
  from: string
  to: string
}

export interface Plan {
  moves: Move[]
  /** Nodes asked for that are on their target already. */
  already: string[]
  /** The moves in waves: the canaries first (when any), then waves of `wave` nodes. */
  waves: string[][]
  /** Whether the first wave is the canaries'. */
  canary: boolean
}

/** "canary", "wave 1", ...: the name of wave i of a rollout; pure. */
export function waveName(i: number, canary: boolean): string {
  return canary ? (i === 0 ? 'canary' : `wave ${i}`) : `wave ${i + 1}`
}

/**
 * Which nodes move where, and in which waves; pure. `targetOf` gives a node's target revision
 * (NAME@N) from its current one: a fixed revision, or its image's current one (--latest), or
 * undefined for a node the rollout leaves alone (another image). Nodes named on the command line
 * must be movable; with --all, nodes without a root (no revision) or of another image are left out.
 */
export function planRollout(inventory: Inventory, nodes: readonly string[] | 'all', targetOf: (image: string) => string | undefined, sizes: {canary: number, wave: number}): Plan {
  const all = [...inventory.nodes].sort(byName)
  const chosen = nodes === 'all' ? all : all.filter((n) => nodes.includes(n.name))
  const moves: Move[] = []
  const already: string[] = []
  for (const node of chosen) {
    if (!node.image || !parseRevisionRef(node.image)) {
      if (nodes !== 'all') throw new UserError(`${node.name} has no root to move (it was never cloned)`, `clone it first: pxeroot nodes clone`)
      continue
    }
    const to = targetOf(node.image)
    if (to === undefined) {
      if (nodes !== 'all') throw new UserError(`${node.name} is on ${node.image}, another image than the rollout's`, 'name only nodes of that image, or move it with "pxeroot nodes rebase"')
      continue
    }
    if (to === node.image) already.push(node.name)
    else moves.push({name: node.name, from: node.image, to})
  }
  const names = moves.map((m) => m.name)
  const waves: string[][] = []
  const canary = Math.min(sizes.canary, names.length)
  if (canary > 0) waves.push(names.slice(0, canary))
  for (let i = canary; i < names.length; i += sizes.wave) waves.push(names.slice(i, i + sizes.wave))
  return {moves, already, waves, canary: canary > 0}
}
