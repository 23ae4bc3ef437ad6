import {type SiteModel} from '../config/site.js'
import {type InventoryNode} from '../inventory/inventory.js'
import {type MethodChoice, type StorageBackend} from '../storage/backend.js'
import {previousRootName, tempRootName} from '../storage/names.js'
import {type Context} from '../system/context.js'
import {writeInRoot} from '../system/root-files.js'
import {cloneToTemp, type CloneSource} from './engine.js'
import {identityOf, newMachineId, readMachineId, removeHostKeys, writeIdentity} from './identity.js'
import {switchRoots} from './journal.js'
import {NODE_KNOWN_HOSTS, recordHostKeys} from './known-hosts.js'
import {carryNodeLocal} from './node-local.js'
import {cloneRecordOf, withCloneRecord} from './record.js'

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
export async function rebaseRoot(ctx: Context, site: SiteModel, storage: StorageBackend, node: InventoryNode,
  to: CloneSource & {nodesDir: string, choice: MethodChoice, sparse: boolean, knownHosts?: string},
  commit: (entry: InventoryNode) => Promise<void>): Promise<RebasedRoot> {
  const t0 = performance.now()
  const {nodesDir} = to
  const record = cloneRecordOf(node)
  let machineId = record?.machineId ?? newMachineId()
  let carried = 0
  const current = await storage.openRoot(node.name, {write: false})
  let temp: string
  try {
    machineId = await readMachineId(current.dir) ?? machineId
    temp = await cloneToTemp(storage, {source: to.ref, method: to.choice.method, name: node.name, sparse: to.sparse}, async (dir) => {
      // The image's own host keys (if any) must not survive next to the node's carried ones.
      await removeHostKeys(ctx, dir)
      carried = (await carryNodeLocal(ctx, current.dir, dir, site.clone.nodeLocal, ctx.signal)).length
      await writeIdentity(ctx, dir, identityOf(site, node.name, machineId, 'keep'), ctx.signal)
      if (!storage.rootsShared) await recordHostKeys(ctx, node.name, dir)
      // A root written only while pxeroot holds it gets the cluster's known_hosts now.
      if (to.knownHosts !== undefined) await writeInRoot(ctx.files, dir, NODE_KNOWN_HOSTS, to.knownHosts)
    })
  } finally {
    await current.close()
  }
  try {
    const previous = previousRootName(node.name)
    const superseded = await storage.rootExists(previous) ? tempRootName(previous, 'trash') : undefined
    const entry = withCloneRecord({...node, image: to.refText}, {method: to.choice.method, machineId, previous: {image: node.image, method: record?.method ?? 'rsync'}})
    await switchRoots(ctx.files, nodesDir, {
      node: node.name,
      renames: [
        ...(superseded ? [{from: previous, to: superseded}] : []),
        {from: node.name, to: previous},
        {from: temp, to: node.name},
      ],
      entry,
    }, commit, storage)
    if (superseded) await storage.removeRoot(superseded)
  } catch (error) {
    await storage.removeRoot(temp).catch(() => undefined)
    throw error
  }
  ctx.log(`rebased ${node.name}: ${node.image ?? '?'} → ${to.refText} (${carried} node-local path(s) carried)`)
  return {name: node.name, from: node.image, carried, seconds: (performance.now() - t0) / 1000}
}
