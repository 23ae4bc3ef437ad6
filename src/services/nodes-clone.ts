import {applyBootConfig, type ApplyResult} from '../apply/apply.js'
import {cloneToTemp, describeFailures, forEachNode, InventoryWriter, nodesDirOf, recover, resolveSource} from '../clone/engine.js'
import {identityOf, newMachineId, writeIdentity} from '../clone/identity.js'
import {switchInBatches, upsertNode} from '../clone/journal.js'
import {newHostKeySets, NODE_KNOWN_HOSTS, plannedKnownHosts, publishKnownHosts, recordHostKeys} from '../clone/known-hosts.js'
import {planClones, type PlannedClone} from '../clone/plan.js'
import {cloneRecordOf, withCloneRecord} from '../clone/record.js'
import {withSiteLock} from '../config/site-lock.js'
import {chooseServer} from '../config/servers.js'
import {loadSite} from '../config/site-file.js'
import {type SiteModel} from '../config/site.js'
import {PartialFailureError, UserError} from '../errors.js'
import {assertValidInventory, loadInventory, type Inventory} from '../inventory/inventory.js'
import {type CloneMethod, type MethodChoice, type StorageBackend} from '../storage/backend.js'
import {withStorage} from '../storage/registry.js'
import {freeSpace} from '../storage/space.js'
import {type Context} from '../system/context.js'
import {writeInRoot} from '../system/root-files.js'
import {bounded} from '../system/pool.js'

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

/**
 * `nodes clone N`: makes node01..nodeN exist with roots cloned from one image revision, each a
 * distinct machine, and then applies the boot configuration so they boot. Existing roots are
 * never touched. Each root appears under its final name only complete, and is registered
 * (journal, then inventory) right after; the boot files follow at the end. Everything that can
 * refuse (range, names, space) refuses before the first directory is created.
 */
export async function cloneNodes(ctx: Context, options: CloneNodesOptions): Promise<CloneNodesResult> {
  if (!Number.isInteger(options.count) || options.count < 1) throw new UserError(`COUNT: "${options.count}" must be a whole number of nodes, 1 or more`)
  const started = performance.now()
  const run = async (): Promise<CloneNodesResult> => {
    // On a site with several servers the roots are cloned on this server's storage: they are its own.
    const site = chooseServer(await loadSite(ctx.root), {name: ctx.server, isHost: ctx.root.isHost})
    return withStorage(ctx, site, (storage) => cloneWith(ctx, site, storage, options, started))
  }
  return options.dryRun ? run() : withSiteLock(ctx, run)
}

async function cloneWith(ctx: Context, site: SiteModel, storage: StorageBackend, options: CloneNodesOptions, started: number): Promise<CloneNodesResult> {
  const source = await resolveSource(ctx, site, options.image)
  const nodesDir = await nodesDirOf(ctx, site, false)
  let inventory = await loadInventory(ctx.root)
  let recovered: string[] = []
  let cleaned: string[] = []
  if (!options.dryRun) ({inventory, recovered, cleaned} = await recover(ctx, site, storage, inventory))

  const present = await storage.listRoots()
  const plan = planClones(site, inventory, options.count, (name) => present.has(name))
  const machineIds = new Map(plan.create.map((p) => [p.name, (p.entry && cloneRecordOf(p.entry)?.machineId) ?? newMachineId()]))
  const entryOf = (p: PlannedClone, method: CloneMethod) => withCloneRecord({...(p.entry ?? {name: p.name, ip: p.ip}), image: source.refText, ...(site.self ? {server: site.self} : {})}, {method, machineId: machineIds.get(p.name)})
  const withPlanned = (inv: Inventory, method: CloneMethod) => plan.create.reduce((i, p) => upsertNode(i, entryOf(p, method)), inv)
  let choice: MethodChoice = {method: options.method ?? 'copy', reason: 'nothing to clone'}
  let space = {needed: 0, free: 0}
  let sparse = true
  if (plan.create.length > 0) {
    choice = await storage.chooseMethod(source.ref, options.method)
    assertValidInventory(site, withPlanned(inventory, choice.method))
    if (options.spaceCheck === false) space = {needed: 0, free: (await freeSpace(nodesDir)).bytes}
    else ({sparse, ...space} = await storage.checkCloneSpace(source.ref, choice.method, plan.create.length, 'nodes clone'))
  }
  const base = {image: source.refText, method: choice.method, reason: choice.reason, existing: plan.existing, recovered, cleaned, space}
  if (options.dryRun) {
    const apply = plan.create.length > 0 ? await applyBootConfig(ctx, {site, inventory: withPlanned(inventory, choice.method), dryRun: true}) : undefined
    return {...base, dryRun: true, created: plan.create.map((p) => ({name: p.name, ip: p.ip, seconds: 0})), failed: [], seconds: (performance.now() - started) / 1000, apply}
  }
  if (plan.create.length > 0) await nodesDirOf(ctx, site, true)

  // Roots written only while pxeroot holds them (RBD clones their nodes map) get the cluster's
  // complete known_hosts in the one attach their identity takes: their keys are made first.
  const keys = storage.rootsShared ? undefined : await newHostKeySets(site, plan.create.map((p) => p.name))
  const knownHosts = keys && await plannedKnownHosts(ctx, site, storage, withPlanned(inventory, choice.method),
    new Map([...keys].map(([node, set]) => [node, [...set.values()].map((k) => k.publicKey)])))
  const writer = new InventoryWriter(ctx, inventory)
  const switchRoot = switchInBatches(ctx.files, nodesDir, writer.commitAll, storage)
  // The clones take the slots; a clone waiting for its switch to be committed (in a group with
  // the others that are ready, see switchInBatches) lets the next one start.
  const cloning = bounded(storage.cloneConcurrency(choice.method, site.clone.concurrency))
  const {done: created, failed} = await forEachNode(ctx, plan.create, plan.create.length, async (p) => {
    let t0 = 0
    const temp = await cloning(async () => {
      ctx.signal.throwIfAborted()
      t0 = performance.now()
      return cloneToTemp(storage, {source: source.ref, method: choice.method, name: p.name, sparse}, async (dir) => {
        const made = keys?.get(p.name)
        await writeIdentity(ctx, dir, {...identityOf(site, p.name, machineIds.get(p.name)!, 'fresh'), keys: made}, ctx.signal)
        if (made && knownHosts !== undefined) {
          await writeInRoot(ctx.files, dir, NODE_KNOWN_HOSTS, knownHosts)
          await recordHostKeys(ctx, p.name, [...made.values()].map((k) => k.publicKey))
        }
      })
    })
    try {
      await switchRoot({node: p.name, renames: [{from: temp, to: p.name}], entry: entryOf(p, choice.method)})
    } catch (error) {
      await storage.removeRoot(temp).catch(() => undefined)
      throw error
    }
    ctx.log(`cloned ${p.name} (${p.ip}) from ${source.refText} by ${choice.method}`)
    return {name: p.name, ip: p.ip, seconds: (performance.now() - t0) / 1000}
  })
  ctx.signal.throwIfAborted()
  inventory = writer.inventory

  let apply: ApplyResult | undefined
  if (created.length > 0) {
    await publishKnownHosts(ctx, site, storage, inventory)
    apply = await applyBootConfig(ctx, {site, inventory, reload: options.reload})
  }
  const result = {...base, dryRun: false, created, failed, seconds: (performance.now() - started) / 1000, apply}
  if (failed.length > 0) {
    throw new PartialFailureError(`${failed.length} of ${plan.create.length} clone(s) failed: ${describeFailures(failed)}`, result,
      'nothing half-made was registered; fix the cause and run the same command again')
  }
  return result
}
