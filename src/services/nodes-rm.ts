import {type Context} from '../system/context.js'
import {publishKnownHosts} from '../clone/known-hosts.js'
import {removeNodeRoots} from '../clone/node-info.js'
import {changeInventory, type ChangeOptions, type ChangeResult} from './inventory-change.js'
import {removeNode} from '../inventory/edit.js'
import {loadBmcSecrets, saveBmcSecrets} from '../backends/power/secrets.js'
import {withStorage} from '../storage/registry.js'
import {UserError} from '../errors.js'

export interface RemoveResult extends ChangeResult {
  removedRoots: string[]
}

/**
 * Removes a node: its boot entries first (so nothing exports or boots the root any more), then,
 * unless kept, its root and previous root, and its keys from the cluster's known_hosts.
 */
export async function removeNodeAndRoot(ctx: Context, name: string, options: ChangeOptions & {keepRoot?: boolean}): Promise<RemoveResult> {
  const removedRoots: string[] = []
  const result = await changeInventory(ctx, async (site, inventory) => {
    const next = removeNode(inventory, name)
    // A root its node holds (an RBD clone it mapped) cannot be removed: refuse before anything changes.
    const busy = options.keepRoot ? [] : await withStorage(ctx, site, (storage) => storage.rootInUse(name))
    if (busy.length > 0) throw new UserError(`refusing to remove ${name}: its root is in use (${busy[0]}); nothing was changed`, 'shut the node down first, or keep the root with --keep-root')
    return next
  }, {
    ...options,
    afterSave: async (site, before, after) => {
      if (!options.keepRoot) removedRoots.push(...await removeNodeRoots(ctx, site, before, name))
      await withStorage(ctx, site, (storage) => publishKnownHosts(ctx, site, storage, after))
      // A removed node's BMC password goes with it.
      const secrets = await loadBmcSecrets(ctx.root).catch(() => undefined)
      if (secrets?.delete(name)) await saveBmcSecrets(ctx, secrets)
    },
  })
  return {...result, removedRoots}
}
