import {promises as fs} from 'node:fs'
import path from 'node:path'

import {applyBootConfig, withSiteLock, type ApplyResult} from '../apply/apply.js'
import {type Context} from '../base-command.js'
import {loadSite} from '../config/site-file.js'
import {type SiteModel} from '../config/site.js'
import {PartialFailureError, UserError} from '../errors.js'
import {formatRevisionRef, revisionRootfs, type RevisionRef} from '../images/layout.js'
import {resolveRevision} from '../images/revision-ref.js'
import {assertValidInventory, loadInventory, saveInventory, type Inventory} from '../nodes/inventory.js'
import {cloneConcurrency, cloneTree} from './copy.js'
import {cloneCost, freeSpace, treeUsage} from './disk.js'
import {newMachineId, writeIdentity} from './identity.js'
import {resumeSwitches, switchRoots, upsertNode} from './journal.js'
import {publishKnownHosts} from './known-hosts.js'
import {chooseMethod, type CloneMethod, type MethodChoice} from './method.js'
import {planClones, type PlannedClone} from './plan.js'
import {mapBounded, serial} from '../system/pool.js'
import {cloneRecordOf, withCloneRecord} from './record.js'
import {cleanLeftovers, removeRoot, tempRootName} from './remove.js'

export interface CloneNodesOptions {
  count: number
  /** name@N or name; default: the site's boot.image at its current revision. */
  image?: string
  method?: CloneMethod
  dryRun?: boolean
  reload?: boolean
  /** Tests of the disk-full path turn the up-front space check off; the CLI never does. */
  spaceCheck?: boolean
}

export interface CloneNodesResult {
  image: string
  method: CloneMethod
  reason: string
  dryRun: boolean
  created: {name: string, ip: string, seconds: number}[]
  existing: string[]
  failed: {name: string, error: string}[]
  /** Interrupted switches finished and leftovers removed before this run. */
  recovered: string[]
  cleaned: string[]
  /** Disk the new roots need (estimate) and what the filesystem has free. */
  space: {needed: number, free: number}
  seconds: number
  apply?: ApplyResult
}

/** The on-disk nodes directory, created if missing (the site's paths.nodes). */
export async function nodesDirOf(ctx: Context, site: SiteModel, create: boolean): Promise<string> {
  const dir = ctx.root.resolve(site.paths.nodes)
  if (create) await fs.mkdir(dir, {recursive: true, mode: 0o755})
  return dir
}

/** The nearest existing directory (method probes need a real place on the target filesystem). */
async function existingAncestor(dir: string): Promise<string> {
  let d = dir
  while (!await fs.stat(d).then((s) => s.isDirectory(), () => false)) d = path.dirname(d)
  return d
}

/** Finishes interrupted switches and removes leftovers; the first thing every root-changing run does. */
export async function recover(ctx: Context, site: SiteModel, inventory: Inventory): Promise<{inventory: Inventory, recovered: string[], cleaned: string[]}> {
  const nodesDir = await nodesDirOf(ctx, site, false)
  const {inventory: inv, resumed} = await resumeSwitches(nodesDir, inventory, ctx.log, (i) => saveInventory(ctx.root, i))
  const cleaned = await cleanLeftovers(ctx.runner, nodesDir, ctx.log)
  for (const name of cleaned) ctx.log(`removed leftover ${path.join(site.paths.nodes, name)}`)
  return {inventory: inv, recovered: resumed, cleaned}
}

export async function resolveImage(ctx: Context, site: SiteModel, image: string | undefined): Promise<RevisionRef> {
  return resolveRevision(ctx.root, site, image ?? site.boot.image, '--image')
}

/** Checks that `n` clones of `source` fit, before anything is created; `sparse` tells whether
 * the source has sparse files (unknown, so assumed, for snapshots, which keep them anyway). */
export async function checkSpace(source: string, dir: string, method: CloneMethod, n: number, what: string): Promise<{needed: number, free: number, sparse: boolean}> {
  const usage = method === 'btrfs' ? {entries: 0, bytes: 0, sparseFiles: 1} : await treeUsage(source)
  const cost = cloneCost(method, usage)
  const free = await freeSpace(dir)
  const needed = cost.bytes * n
  // Leave 5 % or 64 MiB so the filesystem is not run to the last block.
  const margin = Math.max(64 << 20, Math.round(needed * 0.05))
  if (needed + margin > free.bytes) {
    throw new UserError(`${what}: not enough disk: ${n} ${method} clone(s) need about ${mib(needed + margin)} and ${dir} has ${mib(free.bytes)} free; nothing was created`,
      'free space, clone fewer nodes, or keep images and nodes on one btrfs or xfs (reflink) filesystem')
  }
  if (free.inodes !== undefined && cost.entries * n > free.inodes) {
    throw new UserError(`${what}: not enough inodes: ${n} clone(s) need ${cost.entries * n} and ${dir} has ${free.inodes} free; nothing was created`)
  }
  return {needed, free: free.bytes, sparse: usage.sparseFiles > 0}
}

export function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(bytes < 10 * 2 ** 20 ? 1 : 0)} MiB`
}

export interface BuildRootOptions {
  method: CloneMethod
  source: string
  nodesDir: string
  name: string
  /** The source has sparse files (checkSpace tells); rsync then keeps holes at some cost. */
  sparse: boolean
}

/** Clones into a temp name beside the target; removes it again when anything fails. */
export async function cloneToTemp(ctx: Context, o: BuildRootOptions, fill: (temp: string) => Promise<void>): Promise<string> {
  const temp = tempRootName(o.nodesDir, o.name, 'clone')
  try {
    await cloneTree(ctx.runner, o.method, o.source, temp, {sparse: o.sparse, signal: ctx.signal})
    await fill(temp)
    return temp
  } catch (error) {
    await removeRoot(ctx.runner, o.nodesDir, temp).catch(() => undefined)
    throw error
  }
}

/**
 * `nodes clone N`: makes node01..nodeN exist with roots cloned from one image revision, each a
 * distinct machine, and then applies the boot configuration so they boot. Existing roots are
 * never touched. Each root appears under its final name only complete, and is registered
 * (journal, then inventory) right after; the boot files follow at the end.
 */
export async function cloneNodes(ctx: Context, options: CloneNodesOptions): Promise<CloneNodesResult> {
  if (!Number.isInteger(options.count) || options.count < 1) throw new UserError(`COUNT: "${options.count}" must be a whole number of nodes, 1 or more`)
  const started = performance.now()
  const run = async (): Promise<CloneNodesResult> => {
    const site = await loadSite(ctx.root)
    const ref = await resolveImage(ctx, site, options.image)
    const refText = formatRevisionRef(ref)
    const source = ctx.root.resolve(revisionRootfs(site, ref))
    const nodesDir = await nodesDirOf(ctx, site, !options.dryRun)
    let inventory = await loadInventory(ctx.root)
    let recovered: string[] = []
    let cleaned: string[] = []
    if (!options.dryRun) ({inventory, recovered, cleaned} = await recover(ctx, site, inventory))

    const present = new Set(await fs.readdir(nodesDir).catch(() => [] as string[]))
    const plan = planClones(site, inventory, options.count, (name) => present.has(name))
    const machineIds = new Map(plan.create.map((p) => [p.name, (p.entry && cloneRecordOf(p.entry)?.machineId) ?? newMachineId()]))
    const entryOf = (p: PlannedClone, method: CloneMethod) => withCloneRecord({...(p.entry ?? {name: p.name, ip: p.ip}), image: refText}, {method, machineId: machineIds.get(p.name)})
    let choice: MethodChoice = {method: options.method ?? 'rsync', reason: 'nothing to clone'}
    let space = {needed: 0, free: 0}
    let sparse = true
    if (plan.create.length > 0) {
      choice = await chooseMethod(source, await existingAncestor(nodesDir), options.method)
      let final = inventory
      for (const p of plan.create) final = upsertNode(final, entryOf(p, choice.method))
      assertValidInventory(site, final)
      if (options.spaceCheck === false) {
        space = {needed: 0, free: (await freeSpace(await existingAncestor(nodesDir))).bytes}
      } else {
        ({sparse, ...space} = await checkSpace(source, await existingAncestor(nodesDir), choice.method, plan.create.length, 'nodes clone'))
      }
    }
    const base = {image: refText, method: choice.method, reason: choice.reason, existing: plan.existing, recovered, cleaned, space}
    if (options.dryRun) {
      const apply = plan.create.length > 0
        ? await applyBootConfig(ctx, {site, inventory: plan.create.reduce((inv, p) => upsertNode(inv, entryOf(p, choice.method)), inventory), dryRun: true})
        : undefined
      return {...base, dryRun: true, created: plan.create.map((p) => ({name: p.name, ip: p.ip, seconds: 0})), failed: [], seconds: (performance.now() - started) / 1000, apply}
    }

    const save = serial()
    const outcomes = await mapBounded(plan.create, cloneConcurrency(choice.method, site.clone.concurrency), async (p) => {
      const t0 = performance.now()
      ctx.signal.throwIfAborted()
      const temp = await cloneToTemp(ctx, {method: choice.method, source, nodesDir, name: p.name, sparse}, (dir) => writeIdentity(ctx.runner, dir, {
        name: p.name, domain: site.domain, server: site.server, machineId: machineIds.get(p.name)!, hostKeyTypes: site.clone.hostKeyTypes, hostKeys: 'fresh',
      }, ctx.signal))
      try {
        // Switches of different nodes touch different names; only the inventory save is shared.
        await switchRoots(nodesDir, {node: p.name, renames: [{from: path.basename(temp), to: p.name}], entry: entryOf(p, choice.method)}, (entry) => save(async () => {
          inventory = upsertNode(inventory, entry)
          await saveInventory(ctx.root, inventory)
        }))
      } catch (error) {
        await removeRoot(ctx.runner, nodesDir, temp).catch(() => undefined)
        throw error
      }
      ctx.log(`cloned ${p.name} (${p.ip}) from ${refText} by ${choice.method}`)
      return {name: p.name, ip: p.ip, seconds: (performance.now() - t0) / 1000}
    })
    const created = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []))
    const failed = outcomes.flatMap((o, i) => (o.status === 'rejected' ? [{name: plan.create[i].name, error: (o.reason as Error).message}] : []))
    ctx.signal.throwIfAborted()

    let apply: ApplyResult | undefined
    if (created.length > 0) {
      await publishKnownHosts(ctx.root, site, inventory)
      apply = await applyBootConfig(ctx, {site, inventory, reload: options.reload})
    }
    const result = {...base, dryRun: false, created, failed, seconds: (performance.now() - started) / 1000, apply}
    if (failed.length > 0) {
      throw Object.assign(new PartialFailureError(`${failed.length} of ${plan.create.length} clone(s) failed: ${failed.map((f) => `${f.name}: ${f.error}`).join('; ')}`,
        'nothing half-made was registered; fix the cause and run the same command again'), {result})
    }
    return result
  }
  return options.dryRun ? run() : withSiteLock(ctx, run)
}
