import path from 'node:path'

import {type InventoryNode} from '../inventory/inventory.js'
import {type Context} from '../system/context.js'
import {exists} from '../system/files.js'
import {cloneRecordOf, previousRootName, withCloneRecord} from './record.js'
import {removeRoot} from './remove.js'

/** Deletes a node's previous root; returns whether one was there, and the entry without it. */
export async function prunePrevious(ctx: Context, nodesDir: string, node: InventoryNode): Promise<{pruned: boolean, entry: InventoryNode}> {
  const previous = path.join(nodesDir, previousRootName(node.name))
  const record = cloneRecordOf(node)
  const pruned = await exists(previous)
  if (pruned) await removeRoot(ctx, nodesDir, previous)
  return {pruned, entry: record?.previous ? withCloneRecord(node, {...record, previous: undefined}) : node}
}
