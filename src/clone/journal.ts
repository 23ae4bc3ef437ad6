import {promises as fs} from 'node:fs'
import path from 'node:path'

import {type Inventory, type InventoryNode} from '../inventory/inventory.js'
import {type StorageBackend} from '../storage/backend.js'
import {type Files} from '../system/files.js'

/** What a switch renames: root entries, where the storage backend keeps them. */
export type RootRenames = Pick<StorageBackend, 'rootExists' | 'renameRoot'>

/**
 * A root switch (clone into place, rebase, rollback) is a few renames of root entries (in the
 * nodes directory, or where the storage backend keeps roots) plus one inventory change. They
 * cannot be one atomic step, so each switch first writes a journal in the nodes directory listing
 * the renames and the inventory entry it ends with, and records every rename as it completes. A
 * run killed half-way is finished by the next run (always forwards: the new tree was complete
 * before the journal was written).
 */
export interface Journal {
  node: string
  /** Renames of root entries, by entry name, in order. */
  renames: {from: string, to: string}[]
  done: number
  /** The node's inventory entry once the switch is complete. */
  entry: InventoryNode
}

export function journalFile(nodesDir: string, node: string): string {
  return path.join(nodesDir, `.${node}.pxeroot-journal.json`)
}

export const JOURNAL_NAME = /^\.[a-z0-9-]+\.pxeroot-journal\.json$/

/** Performs the renames not yet done, recording each; a rename found already done is skipped. */
async function runRenames(files: Files, nodesDir: string, journal: Journal, roots: RootRenames): Promise<void> {
  const file = journalFile(nodesDir, journal.node)
  for (let i = journal.done; i < journal.renames.length; i++) {
    const {from, to} = journal.renames[i]
    if (await roots.rootExists(from)) {
      if (await roots.rootExists(to)) throw new Error(`internal: ${to} is in the way of the switch of ${journal.node}`)
      await roots.renameRoot(from, to)
    } else if (!await roots.rootExists(to)) {
      throw new Error(`the switch of ${journal.node} cannot finish: neither ${from} nor ${to} exists`)
    }
    journal.done = i + 1
    // After the last rename the record would only say what the presence check above already
    // tells a resuming run (source gone, target there: skipped); two fsyncs per switch saved.
    if (journal.done < journal.renames.length) await files.write(file, JSON.stringify(journal))
  }
}

/** Starts and completes a switch; `commit` saves the inventory with the journal's entry. */
export async function switchRoots(files: Files, nodesDir: string, journal: Omit<Journal, 'done'>, commit: (entry: InventoryNode) => Promise<void>, roots: RootRenames): Promise<void> {
  const j: Journal = {...journal, done: 0}
  const file = journalFile(nodesDir, j.node)
  await files.write(file, JSON.stringify(j))
  await runRenames(files, nodesDir, j, roots)
  await commit(j.entry)
  await files.remove(file)
}

export function upsertNode(inventory: Inventory, entry: InventoryNode): Inventory {
  return {nodes: [...inventory.nodes.filter((n) => n.name !== entry.name), entry]}
}

/** Finishes the renames of every switch a killed run left and returns the inventory with their
 * entries applied; `save` must store that inventory before the journals are removed. */
export async function resumeSwitches(files: Files, nodesDir: string, inventory: Inventory, log: (line: string) => void, save: (inventory: Inventory) => Promise<void>, roots: RootRenames): Promise<{inventory: Inventory, resumed: string[]}> {
  const resumed: string[] = []
  const finished: string[] = []
  let inv = inventory
  for (const name of await fs.readdir(nodesDir).catch(() => [] as string[])) {
    if (!JOURNAL_NAME.test(name)) continue
    const file = path.join(nodesDir, name)
    let j: Journal
    try {
      j = JSON.parse(await fs.readFile(file, 'utf8')) as Journal
    } catch {
      log(`removing unreadable journal ${file}`)
      await files.remove(file)
      continue
    }
    try {
      await runRenames(files, nodesDir, j, roots)
      inv = upsertNode(inv, j.entry)
      resumed.push(j.node)
      log(`finished the interrupted switch of ${j.node}`)
    } catch (error) {
      log(`abandoning the interrupted switch of ${j.node}: ${(error as Error).message}`)
    }
    finished.push(file)
  }
  if (resumed.length > 0) await save(inv)
  for (const file of finished) await files.remove(file)
  return {inventory: inv, resumed}
}
