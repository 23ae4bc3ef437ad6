import path from 'node:path'

import {UserError} from '../errors.js'
import {type InventoryNode} from '../inventory/inventory.js'
import {type Context} from '../system/context.js'
import {isDirectory} from '../system/files.js'
import {releaseSelfBinds} from '../system/mounts.js'
import {switchRoots} from './journal.js'
import {cloneRecordOf, previousRootName, withCloneRecord} from './record.js'
import {tempRootName} from './remove.js'

/** Swaps a node's root with its previous one (a second rollback swaps back); returns the new entry. */
export async function rollbackRoot(ctx: Context, nodesDir: string, node: InventoryNode, commit: (entry: InventoryNode) => Promise<void>): Promise<InventoryNode> {
  const {name} = node
  const record = cloneRecordOf(node)
  if (!record?.previous || !await isDirectory(path.join(nodesDir, previousRootName(name)))) {
    throw new UserError(`${name} has no previous root to roll back to`, 'a previous root exists after "pxeroot nodes rebase" until "pxeroot nodes prune"')
  }
  const aside = path.basename(tempRootName(nodesDir, name, 'swap'))
  const entry = withCloneRecord({...node, image: record.previous.image}, {
    method: record.previous.method, machineId: record.machineId, previous: {image: node.image, method: record.method},
  })
  if (entry.image === undefined) delete (entry as Record<string, unknown>).image
  // A mount point cannot be renamed: the root's self-bind goes; apply binds the swapped-in root.
  await releaseSelfBinds(ctx.runner, path.join(nodesDir, name))
  await switchRoots(ctx.files, nodesDir, {
    node: name,
    renames: [{from: name, to: aside}, {from: previousRootName(name), to: name}, {from: aside, to: previousRootName(name)}],
    entry,
  }, commit)
  ctx.log(`rolled ${name} back: ${node.image ?? '?'} → ${entry.image ?? '?'}`)
  return entry
}
