import {UserError} from '../errors.js'
import {type InventoryNode} from '../inventory/inventory.js'
import {type StorageBackend} from '../storage/backend.js'
import {previousRootName, tempRootName} from '../storage/names.js'
import {type Context} from '../system/context.js'
import {switchRoots} from './journal.js'
import {cloneRecordOf, withCloneRecord} from './record.js'

/** Swaps a node's root with its previous one (a second rollback swaps back); returns the new entry. */
export async function rollbackRoot(ctx: Context, storage: StorageBackend, nodesDir: string, node: InventoryNode, commit: (entry: InventoryNode) => Promise<void>): Promise<InventoryNode> {
  const {name} = node
  const record = cloneRecordOf(node)
  if (!record?.previous || !await storage.rootExists(previousRootName(name))) {
    throw new UserError(`${name} has no previous root to roll back to`, 'a previous root exists after "pxeroot nodes rebase" until "pxeroot nodes prune"')
  }
  const aside = tempRootName(name, 'swap')
  const entry = withCloneRecord({...node, image: record.previous.image}, {
    method: record.previous.method, machineId: record.machineId, previous: {image: node.image, method: record.method},
  })
  if (entry.image === undefined) delete (entry as Record<string, unknown>).image
  await switchRoots(ctx.files, nodesDir, {
    node: name,
    renames: [{from: name, to: aside}, {from: previousRootName(name), to: name}, {from: aside, to: previousRootName(name)}],
    entry,
  }, commit, storage)
  ctx.log(`rolled ${name} back: ${node.image ?? '?'} → ${entry.image ?? '?'}`)
  return entry
}
