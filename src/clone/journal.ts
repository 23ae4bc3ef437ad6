import {randomBytes} from 'node:crypto'
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

/** A batch's journal (see switchInBatches): "_" is in no node name, so it never collides with one. */
function batchJournalFile(nodesDir: string): string {
  return path.join(nodesDir, `._batch-${randomBytes(4).toString('hex')}.pxeroot-journal.json`)
}

export const JOURNAL_NAME = /^\.[a-z0-9_-]+\.pxeroot-journal\.json$/

/** A journal file's switches: one node's, or a batch's. */
function switchesIn(data: unknown): Journal[] {
  const batch = (data as {switches?: unknown}).switches
  return Array.isArray(batch) ? batch as Journal[] : [data as Journal]
}

/** Performs the renames not yet done, recording each in the node's journal (a batch's switches
 * have one rename, which needs no record); a rename found already done is skipped. */
async function runRenames(files: Files, nodesDir: string, journal: Journal, roots: RootRenames, record = true): Promise<void> {
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
    if (record && journal.done < journal.renames.length) await files.write(file, JSON.stringify(journal))
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

/**
 * Switches of many nodes whose roots are each one rename into place (new clones), committed in
 * groups: while one group's journal, renames and inventory save are on their way to disk, the
 * switches that arrive wait and form the next group. A group costs one journal listing all of
 * its switches and one inventory save, where a switch on its own costs a
 * journal and an inventory save each (two fsyncs each; on btrfs most of a snapshot clone's
 * time). The promise of each switch settles once its entry is committed, or with its error;
 * when the inventory cannot be saved, the group's roots go back under their temp names.
 */
export function switchInBatches(files: Files, nodesDir: string, commit: (entries: InventoryNode[]) => Promise<void>, roots: RootRenames): (journal: Omit<Journal, 'done'>) => Promise<void> {
  interface Waiting {journal: Journal, resolve: () => void, reject: (error: unknown) => void}
  let pending: Waiting[] = []
  let running: Promise<void> | undefined
  const switchGroup = async (group: Waiting[]): Promise<void> => {
    const file = batchJournalFile(nodesDir)
    try {
      await files.write(file, JSON.stringify({switches: group.map((w) => w.journal)}))
    } catch (error) {
      for (const w of group) w.reject(error)
      return
    }
    const done: Waiting[] = []
    for (const w of group) {
      try {
        await runRenames(files, nodesDir, w.journal, roots, false)
        done.push(w)
      } catch (error) {
        w.reject(error)
      }
    }
    // No sync of the renames before the inventory save: until the journal is removed it still
    // names them, and a run that finds it finishes any rename the disk lost.
    if (done.length > 0) {
      try {
        await commit(done.map((w) => w.journal.entry))
      } catch (error) {
        // Not registered (a full disk, say): the roots go back under their temp names, for their
        // clones to fail whole, and the journal goes. Whatever cannot be undone, it still names.
        await undo(done.map((w) => w.journal), file).catch(() => undefined)
        for (const w of done) w.reject(error)
        return
      }
    }
    // Once the inventory has them a journal left behind only repeats it.
    await files.remove(file).catch(() => undefined)
    for (const w of done) w.resolve()
  }
  const undo = async (journals: readonly Journal[], file: string): Promise<void> => {
    for (const j of [...journals].reverse()) await roots.renameRoot(j.renames[0].to, j.renames[0].from)
    await files.remove(file)
  }
  const drain = async (): Promise<void> => {
    while (pending.length > 0) {
      const group = pending
      pending = []
      await switchGroup(group)
    }
    running = undefined
  }
  return (journal) => {
    if (journal.renames.length !== 1) throw new Error(`internal: a batched switch is one rename (${journal.node} has ${journal.renames.length})`)
    return new Promise<void>((resolve, reject) => {
      pending.push({journal: {...journal, done: 0}, resolve, reject})
      running ??= drain()
    })
  }
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
    let switches: Journal[]
    try {
      switches = switchesIn(JSON.parse(await fs.readFile(file, 'utf8')))
    } catch {
      log(`removing unreadable journal ${file}`)
      await files.remove(file)
      continue
    }
    for (const j of switches) {
      try {
        await runRenames(files, nodesDir, j, roots, file === journalFile(nodesDir, j.node))
        inv = upsertNode(inv, j.entry)
        resumed.push(j.node)
        log(`finished the interrupted switch of ${j.node}`)
      } catch (error) {
        log(`abandoning the interrupted switch of ${j.node}: ${(error as Error).message}`)
      }
    }
    finished.push(file)
  }
  if (resumed.length > 0) await save(inv)
  for (const file of finished) await files.remove(file)
  return {inventory: inv, resumed}
}
