import {promises as fs} from 'node:fs'
import path from 'node:path'

import {applyBootConfig, withSiteLock, type ApplyResult} from '../apply/apply.js'
import {type Context} from '../base-command.js'
import {loadSite} from '../config/site-file.js'
import {type SiteModel} from '../config/site.js'
import {PartialFailureError, UserError} from '../errors.js'
import {formatRevisionRef, nodeRootDir, revisionRootfs} from '../images/layout.js'
import {loadInventory, saveInventory, type Inventory, type InventoryNode} from '../nodes/inventory.js'
import {checkSpace, cloneToTemp, nodesDirOf, recover, resolveImage} from './clone-nodes.js'
import {newMachineId, readMachineId, removeHostKeys, writeIdentity} from './identity.js'
import {rootInUse} from './in-use.js'
import {switchRoots, upsertNode} from './journal.js'
import {publishKnownHosts} from './known-hosts.js'
import {cloneConcurrency} from './copy.js'
import {chooseMethod, type CloneMethod} from './method.js'
import {carryNodeLocal} from './node-local.js'
import {mapBounded, serial} from '../system/pool.js'
import {cloneRecordOf, previousRootName, withCloneRecord} from './record.js'
import {removeRoot, tempRootName} from './remove.js'

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
  rebased: {name: string, from?: string, carried: number, seconds: number}[]
  unchanged: string[]
  failed: {name: string, error: string}[]
  seconds: number
  apply?: ApplyResult
}

async function isDir(p: string): Promise<boolean> {
  return fs.lstat(p).then((s) => s.isDirectory(), () => false)
}

/** The inventory entries named, each required to have a root. */
async function nodesWithRoots(ctx: Context, site: SiteModel, inventory: Inventory, names: string[] | 'all'): Promise<InventoryNode[]> {
  const picked = names === 'all' ? [...inventory.nodes] : names.map((name) => {
    const node = inventory.nodes.find((n) => n.name === name)
    if (!node) throw new UserError(`NODE: ${name} is not in the inventory`, 'see "pxeroot nodes list"')
    return node
  })
  const out: InventoryNode[] = []
  for (const node of picked) {
    if (await isDir(ctx.root.resolve(nodeRootDir(site, node.name)))) out.push(node)
    else if (names !== 'all') throw new UserError(`${node.name} has no root to rebase`, `create it with "pxeroot nodes clone"`)
  }
  return out
}

/** Refuses (nothing changed) when any of the roots looks mounted by a client, unless forced. */
async function refuseInUse(ctx: Context, site: SiteModel, nodes: readonly InventoryNode[], force: boolean | undefined, verb: string): Promise<void> {
  if (force) return
  const busy: string[] = []
  for (const node of nodes) {
    const evidence = await rootInUse(ctx.root, nodeRootDir(site, node.name), node.ip)
    if (evidence.length > 0) busy.push(`${node.name} (${evidence[0]})`)
  }
  if (busy.length > 0) {
    throw new UserError(`refusing to ${verb} ${busy.length === 1 ? 'a root that looks' : 'roots that look'} in use: ${busy.join('; ')}; nothing was changed`,
      'shut the node down first, or pass --force if the NFS state is stale')
  }
}

/**
 * `nodes rebase`: gives nodes a root cloned from another revision, with their node-local paths
 * (identity, host keys, homes, logs: site clone.nodeLocal) carried over from the old root. The
 * old root is kept as <name>.previous for `nodes rollback`; the inventory's revision (and so the
 * kernel, initrd and export through apply) switches when the new root is in place.
 */
export async function rebaseNodes(ctx: Context, options: RebaseOptions): Promise<RebaseResult> {
  const started = performance.now()
  return withSiteLock(ctx, async () => {
    const site = await loadSite(ctx.root)
    const ref = await resolveImage(ctx, site, options.image)
    const refText = formatRevisionRef(ref)
    const source = ctx.root.resolve(revisionRootfs(site, ref))
    const nodesDir = await nodesDirOf(ctx, site, true)
    let {inventory} = await recover(ctx, site, await loadInventory(ctx.root))
    const candidates = await nodesWithRoots(ctx, site, inventory, options.nodes)
    const todo = candidates.filter((n) => n.image !== refText)
    const unchanged = candidates.filter((n) => n.image === refText).map((n) => n.name)
    if (todo.length === 0) return {image: refText, method: options.method ?? 'rsync', reason: 'nothing to rebase', rebased: [], unchanged, failed: [], seconds: 0}
    await refuseInUse(ctx, site, todo, options.force, 'rebase')
    const choice = await chooseMethod(source, nodesDir, options.method)
    const {sparse} = await checkSpace(source, nodesDir, choice.method, todo.length, 'nodes rebase')

    const save = serial()
    const outcomes = await mapBounded(todo, cloneConcurrency(choice.method, site.clone.concurrency), async (node) => {
      const t0 = performance.now()
      ctx.signal.throwIfAborted()
      const current = ctx.root.resolve(nodeRootDir(site, node.name))
      const record = cloneRecordOf(node)
      const machineId = await readMachineId(current) ?? record?.machineId ?? newMachineId()
      let carried = 0
      const temp = await cloneToTemp(ctx, {method: choice.method, source, nodesDir, name: node.name, sparse}, async (dir) => {
        // The image's own host keys (if any) must not survive next to the node's carried ones.
        await removeHostKeys(dir)
        carried = (await carryNodeLocal(ctx.runner, current, dir, site.clone.nodeLocal, ctx.signal)).length
        await writeIdentity(ctx.runner, dir, {name: node.name, domain: site.domain, server: site.server, machineId, hostKeyTypes: site.clone.hostKeyTypes, hostKeys: 'keep'}, ctx.signal)
      })
      try {
        const previous = path.join(nodesDir, previousRootName(node.name))
        // The root before this one is superseded: out of the way first (deleted after the switch).
        let superseded: string | undefined
        if (await fs.lstat(previous).catch(() => undefined)) {
          superseded = tempRootName(nodesDir, previousRootName(node.name), 'trash')
          await fs.rename(previous, superseded)
        }
        const entry = withCloneRecord({...node, image: refText}, {method: choice.method, machineId, previous: {image: node.image, method: record?.method ?? 'rsync'}})
        // Switches of different nodes touch different names; only the inventory save is shared.
        await switchRoots(nodesDir, {
          node: node.name,
          renames: [{from: node.name, to: previousRootName(node.name)}, {from: path.basename(temp), to: node.name}],
          entry,
        }, (e) => save(async () => {
          inventory = upsertNode(inventory, e)
          await saveInventory(ctx.root, inventory)
        }))
        if (superseded) await removeRoot(ctx.runner, nodesDir, superseded)
      } catch (error) {
        await removeRoot(ctx.runner, nodesDir, temp).catch(() => undefined)
        throw error
      }
      ctx.log(`rebased ${node.name}: ${node.image ?? '?'} → ${refText} (${carried} node-local path(s) carried)`)
      return {name: node.name, from: node.image, carried, seconds: (performance.now() - t0) / 1000}
    })
    const rebased = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []))
    const failed = outcomes.flatMap((o, i) => (o.status === 'rejected' ? [{name: todo[i].name, error: (o.reason as Error).message}] : []))
    let apply: ApplyResult | undefined
    if (rebased.length > 0) {
      await publishKnownHosts(ctx.root, site, inventory)
      apply = await applyBootConfig(ctx, {site, inventory, reload: options.reload})
    }
    const result = {image: refText, method: choice.method, reason: choice.reason, rebased, unchanged, failed, seconds: (performance.now() - started) / 1000, apply}
    if (failed.length > 0) throw Object.assign(new PartialFailureError(`${failed.length} rebase(s) failed: ${failed.map((f) => `${f.name}: ${f.error}`).join('; ')}`), {result})
    return result
  })
}

export interface RollbackResult {
  node: string
  image?: string
  from?: string
  apply?: ApplyResult
}

/** `nodes rollback`: swaps a node's root with its previous one (a second rollback swaps back). */
export async function rollbackNode(ctx: Context, name: string, options: {force?: boolean, reload?: boolean} = {}): Promise<RollbackResult> {
  return withSiteLock(ctx, async () => {
    const site = await loadSite(ctx.root)
    const nodesDir = await nodesDirOf(ctx, site, true)
    let {inventory} = await recover(ctx, site, await loadInventory(ctx.root))
    const [node] = await nodesWithRoots(ctx, site, inventory, [name])
    const record = cloneRecordOf(node)
    if (!record?.previous || !await isDir(path.join(nodesDir, previousRootName(name)))) {
      throw new UserError(`${name} has no previous root to roll back to`, 'a previous root exists after "pxeroot nodes rebase" until "pxeroot nodes prune"')
    }
    await refuseInUse(ctx, site, [node], options.force, 'roll back')
    const aside = path.basename(tempRootName(nodesDir, name, 'swap'))
    const entry = withCloneRecord({...node, image: record.previous.image}, {
      method: record.previous.method, machineId: record.machineId, previous: {image: node.image, method: record.method},
    })
    if (entry.image === undefined) delete (entry as Record<string, unknown>).image
    await switchRoots(nodesDir, {
      node: name,
      renames: [{from: name, to: aside}, {from: previousRootName(name), to: name}, {from: aside, to: previousRootName(name)}],
      entry,
    }, async (e) => {
      inventory = upsertNode(inventory, e)
      await saveInventory(ctx.root, inventory)
    })
    ctx.log(`rolled ${name} back: ${node.image ?? '?'} → ${entry.image ?? '?'}`)
    await publishKnownHosts(ctx.root, site, inventory)
    const apply = await applyBootConfig(ctx, {site, inventory, reload: options.reload})
    return {node: name, image: entry.image, from: node.image, apply}
  })
}

export interface PruneResult {
  pruned: string[]
  cleaned: string[]
}

/** `nodes prune`: deletes previous roots (of the named nodes, or all) and leftovers of killed runs. */
export async function pruneNodes(ctx: Context, names: string[] | 'all'): Promise<PruneResult> {
  return withSiteLock(ctx, async () => {
    const site = await loadSite(ctx.root)
    const nodesDir = await nodesDirOf(ctx, site, false)
    const rec = await recover(ctx, site, await loadInventory(ctx.root))
    let inventory = rec.inventory
    const targets = names === 'all' ? inventory.nodes.map((n) => n.name) : names
    for (const name of targets) {
      if (!inventory.nodes.some((n) => n.name === name)) throw new UserError(`NODE: ${name} is not in the inventory`, 'see "pxeroot nodes list"')
    }
    const pruned: string[] = []
    for (const name of targets) {
      const node = inventory.nodes.find((n) => n.name === name)!
      const previous = path.join(nodesDir, previousRootName(name))
      const record = cloneRecordOf(node)
      if (await fs.lstat(previous).catch(() => undefined)) {
        await removeRoot(ctx.runner, nodesDir, previous)
        pruned.push(name)
      }
      if (record?.previous) {
        inventory = upsertNode(inventory, withCloneRecord(node, {...record, previous: undefined}))
        await saveInventory(ctx.root, inventory)
      }
    }
    return {pruned, cleaned: rec.cleaned}
  })
}
