import {type InventoryNode} from '../inventory/inventory.js'
import {type StorageBackend} from '../storage/backend.js'
import {previousRootName} from '../storage/names.js'
import {cloneRecordOf, withCloneRecord} from './record.js'

/** Deletes a node's previous root; returns whether one was there, and the entry without it. */
export async function prunePrevious(storage: StorageBackend, node: InventoryNode): Promise<{pruned: boolean, entry: InventoryNode}> {
  const previous = previousRootName(node.name)
  const record = cloneRecordOf(node)
  const pruned = await storage.rootExists(previous)
  if (pruned) await storage.removeRoot(previous)
  return {pruned, entry: record?.previous ? withCloneRecord(node, {...record, previous: undefined}) : node}
}
