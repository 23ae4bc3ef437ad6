import path from 'node:path'

import {type SiteModel} from '../config/site.js'
import {nodeRootDir} from '../images/layout.js'
import {type InventoryNode} from '../inventory/inventory.js'
import {type Context} from '../system/context.js'
import {exists} from '../system/files.js'
import {releaseSelfBinds} from '../system/mounts.js'
import {cloneToTemp, type CloneSource} from './engine.js'
import {identityOf, newMachineId, readMachineId, removeHostKeys, writeIdentity} from './identity.js'
import {switchRoots} from './journal.js'
import {type MethodChoice} from './method.js'
import {carryNodeLocal} from './node-local.js'
import {cloneRecordOf, previousRootName, withCloneRecord} from './record.js'
import {removeRoot, tempRootName} from './remove.js'

export interface RebasedRoot {
  name: string
  from?: string
  carried: number
  seconds: number
}

/**
 * Gives one node a root cloned from another revision, with its node-local paths (identity, host
 * keys, homes, logs: site clone.nodeLocal) carried over from the old root. The old root becomes
 * <name>.previous for `nodes rollback`; the one before it is superseded. All renames are in one
 * journal, written before the first, so a kill at any point is finished forwards by the next
 * run and never loses the rollback root of a rebase that did not happen.
 */
export async function rebaseRoot(ctx: Context, site: SiteModel, node: InventoryNode, to: CloneSource & {nodesDir: string, choice: MethodChoice, sparse: boolean},
  commit: (entry: InventoryNode) => Promise<void>): Promise<RebasedRoot> {
  const t0 = performance.now()
  const {nodesDir} = to
  const current = ctx.root.resolve(nodeRootDir(site, node.name))
  const record = cloneRecordOf(node)
  const machineId = await readMachineId(current) ?? record?.machineId ?? newMachineId()
  let carried = 0
  const temp = await cloneToTemp(ctx, {method: to.choice.method, source: to.rootfs, nodesDir, name: node.name, sparse: to.sparse}, async (dir) => {
    // The image's own host keys (if any) must not survive next to the node's carried ones.
    await removeHostKeys(ctx, dir)
    carried = (await carryNodeLocal(ctx, current, dir, site.clone.nodeLocal, ctx.signal)).length
    await writeIdentity(ctx, dir, identityOf(site, node.name, machineId, 'keep'), ctx.signal)
  })
  try {
    const previous = previousRootName(node.name)
    const superseded = await exists(path.join(nodesDir, previous)) ? path.basename(tempRootName(nodesDir, previous, 'trash')) : undefined
    const entry = withCloneRecord({...node, image: to.refText}, {method: to.choice.method, machineId, previous: {image: node.image, method: record?.method ?? 'rsync'}})
    // A mount point cannot be renamed: the old root's self-bind goes; apply binds the new root.
    await releaseSelfBinds(ctx.runner, current)
    await switchRoots(ctx.files, nodesDir, {
      node: node.name,
      renames: [
        ...(superseded ? [{from: previous, to: superseded}] : []),
        {from: node.name, to: previous},
        {from: path.basename(temp), to: node.name},
      ],
      entry,
    }, commit)
    if (superseded) await removeRoot(ctx, nodesDir, path.join(nodesDir, superseded))
  } catch (error) {
    await removeRoot(ctx, nodesDir, temp).catch(() => undefined)
    throw error
  }
  ctx.log(`rebased ${node.name}: ${node.image ?? '?'} → ${to.refText} (${carried} node-local path(s) carried)`)
  return {name: node.name, from: node.image, carried, seconds: (performance.now() - t0) / 1000}
}
