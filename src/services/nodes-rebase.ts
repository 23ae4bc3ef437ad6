import {applyBootConfig, type ApplyResult} from '../apply/apply.js'
import {describeFailures, forEachNode, InventoryWriter, nodesDirOf, nodesWithRoots, recover, resolveSource} from '../clone/engine.js'
import {refuseInUse} from '../clone/in-use.js'
import {plannedKnownHosts, publishKnownHosts} from '../clone/known-hosts.js'
import {rebaseRoot, type RebasedRoot} from '../clone/rebase.js'
import {withSiteLock} from '../config/site-lock.js'
import {loadSite} from '../config/site-file.js'
import {type SiteModel} from '../config/site.js'
import {PartialFailureError, UserError} from '../errors.js'
import {loadInventory} from '../inventory/inventory.js'
import {type CloneMethod, type StorageBackend} from '../storage/backend.js'
import {withStorage} from '../storage/registry.js'
import {type Context} from '../system/context.js'

export interface RebaseOptions {
  /** Node names, or "all" for every node that has a root. */
  nodes: string[] | 'all'
  image: string
  method?: CloneMethod
  force?: boolean
  reload?: boolean
}

export interface RebaseResult {
  image: string
  method: CloneMethod
  reason: string
  rebased: RebasedRoot[]
  unchanged: string[]
  failed: {name: string, error: string}[]
  seconds: number
  apply?: ApplyResult
}

/**
 * `nodes rebase`: moves nodes to another revision, keeping their node-local state (see
 * clone/rebase.ts); the inventory's revision (and so the kernel, initrd and export through
 * apply) switches as each new root is in place.
 */
export async function rebaseNodes(ctx: Context, options: RebaseOptions): Promise<RebaseResult> {
  if (options.nodes !== 'all' && options.nodes.length === 0) {
    throw new UserError('name the nodes to rebase, or pass --all', 'e.g. "pxeroot nodes rebase node01 --image lab@3" or "pxeroot nodes rebase --all --image lab"')
  }
  const started = performance.now()
  return withSiteLock(ctx, async () => {
    const site = await loadSite(ctx.root)
    return withStorage(ctx, site, (storage) => rebaseWith(ctx, site, storage, options, started))
  })
}

async function rebaseWith(ctx: Context, site: SiteModel, storage: StorageBackend, options: RebaseOptions, started: number): Promise<RebaseResult> {
  const source = await resolveSource(ctx, site, options.image)
  // A node to rebase has a root, so the directory exists: never create it for a refusal.
  const nodesDir = await nodesDirOf(ctx, site, false)
  const {inventory} = await recover(ctx, site, storage, await loadInventory(ctx.root))
  const candidates = await nodesWithRoots(storage, inventory, options.nodes, 'rebase')
  const todo = candidates.filter((n) => n.image !== source.refText)
  const unchanged = candidates.filter((n) => n.image === source.refText).map((n) => n.name)
  if (todo.length === 0) return {image: source.refText, method: options.method ?? 'copy', reason: 'nothing to rebase', rebased: [], unchanged, failed: [], seconds: 0}
  await refuseInUse(ctx.root, site, storage, todo, options.force, 'rebase')
  const choice = await storage.chooseMethod(source.ref, options.method)
  const {sparse} = await storage.checkCloneSpace(source.ref, choice.method, todo.length, 'nodes rebase')

  const writer = new InventoryWriter(ctx, inventory)
  // Rebased roots their nodes map keep their keys: the known_hosts they get is the cluster's as it is.
  const knownHosts = storage.rootsShared ? undefined : await plannedKnownHosts(ctx, site, storage, inventory, new Map())
  const target = {...source, nodesDir, choice, sparse, knownHosts}
  const {done: rebased, failed} = await forEachNode(ctx, todo, storage.cloneConcurrency(choice.method, site.clone.concurrency), (node) => rebaseRoot(ctx, site, storage, node, target, writer.commit))
  let apply: ApplyResult | undefined
  if (rebased.length > 0) {
    await publishKnownHosts(ctx, site, storage, writer.inventory)
    apply = await applyBootConfig(ctx, {site, inventory: writer.inventory, reload: options.reload})
  }
  const result = {image: source.refText, method: choice.method, reason: choice.reason, rebased, unchanged, failed, seconds: (performance.now() - started) / 1000, apply}
  if (failed.length > 0) throw new PartialFailureError(`${failed.length} rebase(s) failed: ${describeFailures(failed)}`, result)
  return result
}
