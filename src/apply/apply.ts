import {activeServices, serviceOwning} from '../backends/registry.js'
import {type BootModel} from '../boot/model.js'
import {nfsNodes} from '../boot/nodes.js'
import {type Candidate, type ServiceBackend, type SwitchedRoot} from '../backends/types.js'
import {UserError} from '../errors.js'
import {chooseServer, noFailoverNotice} from '../config/servers.js'
import {loadSite} from '../config/site-file.js'
import {type SiteModel} from '../config/site.js'
import {assertValidInventory, loadInventory, type Inventory} from '../inventory/inventory.js'
import {type Context} from '../system/context.js'
import {attachGatewayRoots} from '../storage/rbd/gateway.js'
import {STATE} from '../system/paths.js'
import {staleTempsOf} from '../system/files.js'
import {mapBounded, settled} from '../system/pool.js'
import {bootModel, desiredFiles} from './desired.js'
import {exportedRootsText, nextRecord, readExportedRoots, rootIdentities, switchedRoots, type RootIdentities} from './exported-roots.js'
import {changeDiff, IO_CONCURRENCY, planFiles, readOwned, type Action} from './plan.js'
import {reloadServices, type ReloadResult, type Touched} from './reload.js'

export interface ApplyOptions {
  dryRun?: boolean
  reload?: boolean
  /** Already loaded (and changed) by the caller, e.g. `nodes add`, so the apply sees the new state. */
  site?: SiteModel
  inventory?: Inventory
}

export interface ApplyResult {
  dryRun: boolean
  /** On a site with several servers: the one whose share this apply rendered. */
  server?: string
  /** What the admin must know of this site that no file shows (a DHCP server without failover). */
  notices?: string[]
  changes: {path: string, action: Action}[]
  /** Unified diff of every change (always computed; printed by --dry-run). */
  diff: string
  reloads: ReloadResult[]
  /** Host state made for the daemons besides files (bind mounts of node roots), on the server only. */
  prepared?: string[]
  /** Why services were not reloaded, when they were not. */
  reloadSkipped?: string
}

/**
 * The one flow every boot file goes through: desired state → render → plan → validate →
 * atomic write → reload only what changed. Nothing is written unless every check passed.
 * The caller holds the site lock (see config/site-lock.ts) unless this is a dry run.
 */
export async function applyBootConfig(ctx: Context, options: ApplyOptions = {}): Promise<ApplyResult> {
  // On a site with several servers, this server's share: its address in next-server, URLs and Kea's HA peer name.
  const site = chooseServer(options.site ?? await loadSite(ctx.root), {name: ctx.server, isHost: ctx.root.isHost})
  const inventory = options.inventory ?? await loadInventory(ctx.root)
  assertValidInventory(site, inventory)

  const model = await bootModel(ctx, site, inventory)
  const misread = activeServices(site).flatMap((b) => b.problems?.(model) ?? [])
  if (misread.length > 0) throw new UserError(misread.join('; '))
  const desired = await desiredFiles(ctx.root, model)
  const previous = await readOwned(ctx.root)
  const plan = await planFiles(ctx.root, desired, previous)
  const changed = plan.changes.filter((c) => c.action !== 'unchanged')
  const diff = changed.map(changeDiff).join('')

  // Each daemon's checker on the candidate, side by side (apply is on the path of every clone).
  const candidate: Candidate = {text: (p) => desired.find((f) => f.path === p)?.content.toString()}
  settled(await Promise.allSettled(activeServices(site).map((b) => b.check?.(ctx, candidate))))

  const summary = changed.map((c) => ({path: c.path, action: c.action}))
  const notice = noFailoverNotice(site)
  if (notice) ctx.log(notice)
  const about = {...(site.self ? {server: site.self} : {}), ...(notice ? {notices: [notice]} : {})}
  if (options.dryRun) return {dryRun: true, ...about, changes: summary, diff, reloads: []}

  const manifestFile = ctx.root.resolve(STATE.ownedManifest)
  const writeManifest = (files: string[]) => ctx.files.write(manifestFile, JSON.stringify({files: [...new Set(files)].sort()}, null, 2) + '\n', {mode: 0o644})
  // Until the stale files are gone, the manifest lists old and new, so an interrupted run still knows them.
  if (changed.length > 0) await writeManifest([...previous.files, ...plan.owned])
  // Each file is atomic on its own; any failure is reported after all were tried.
  settled(await mapBounded(changed, IO_CONCURRENCY, async (change) => {
    ctx.signal.throwIfAborted()
    const disk = ctx.root.resolve(change.path)
    if (change.action === 'delete') await ctx.files.remove(disk)
    else await ctx.files.write(disk, change.after!, {mode: change.mode, forceMode: !change.edited})
  }))
  if (changed.length > 0 || previous.files.join() !== plan.owned.join()) await writeManifest(plan.owned)
  // A run killed between writing a file and renaming it left a hidden temp beside it (no daemon
  // reads those); the site lock makes every such temp a dead run's.
  for (const temp of await staleTempsOf([...plan.owned, ...previous.files, STATE.ownedManifest, STATE.exportedRoots].map((p) => ctx.root.resolve(p)))) await ctx.files.remove(temp)

  // Before any reload: what the daemons need besides files, on the server itself only (under
  // --root the lab makes the same mounts in its own namespace).
  const prepared = ctx.root.isHost ? await prepareServices(ctx, activeServices(site), model) : []
  // An rbd gateway's roots attached at their paths, for the NFS server to export (lab: in its namespace).
  const attached = ctx.root.isHost && model.gatewayRoots ? await attachGatewayRoots(ctx, site, model.gatewayRoots) : []
  const nfsBackend = activeServices(site).find((b) => b.kind === 'nfs')
  if (attached.length > 0 && nfsBackend && !prepared.some((p) => p.backend === nfsBackend)) prepared.push({backend: nfsBackend, changes: []})
  const lines = [...prepared.flatMap((p) => p.changes), ...attached]
  for (const line of lines) ctx.log(line)
  const done = {dryRun: false, ...about, changes: summary, diff, ...(lines.length > 0 ? {prepared: lines} : {})}

  const touched = touchedServices(site, changed.map((c) => c.path))
  // A daemon whose host state changed is reloaded even when none of its files did.
  for (const {backend} of prepared) if (!touched.some((t) => t.backend === backend)) touched.push({backend, cause: {changed: [], retired: false}})
  // So is the NFS server when a root was replaced under an exported path (rebase, rollback).
  const recorded = await readExportedRoots(ctx.root)
  const roots = await rootIdentities(ctx.root, nfsNodes(model.nodes))
  const switched = switchedRoots(nfsNodes(model.nodes), recorded, roots)
  const nfs = activeServices(site).find((b) => b.kind === 'nfs')
  if (switched.length > 0 && nfs) {
    const entry = touched.find((t) => t.backend === nfs)
    if (entry) entry.cause = {...entry.cause, switched}
    else touched.push({backend: nfs, cause: {changed: [], retired: false, switched}})
  }
  const record = (untold: readonly SwitchedRoot[]) => saveExportedRoots(ctx, recorded, nextRecord(recorded, roots, untold))

  const skipped = touched.length === 0 ? undefined
    : options.reload === false ? '--no-reload'
      : !ctx.root.isHost ? `--root ${ctx.root.prefix} is not the host's root` : undefined
  if (touched.length === 0 || skipped) {
    await record(switched)
    return {...done, reloads: [], ...(skipped ? {reloadSkipped: skipped} : {})}
  }
  const reloads = await reloadServices(ctx.runner, touched, ctx.signal)
  for (const r of reloads) ctx.log(`${r.ok ? 'reloaded' : 'could not reload'} ${r.service}: ${r.action}${r.message ? ` (${r.message})` : ''}`)
  await record(reloads.some((r) => r.service === 'nfs' && !r.ok) ? switched : [])
  return {...done, reloads}
}

/** Stores what the NFS server was told of the roots, when that changed. */
async function saveExportedRoots(ctx: Context, before: RootIdentities, after: RootIdentities): Promise<void> {
  const text = exportedRootsText(after)
  if (text !== exportedRootsText(before)) await ctx.files.write(ctx.root.resolve(STATE.exportedRoots), text, {mode: 0o644})
}

/** Each active daemon's host state besides files (its prepare step), in turn; the ones that changed something. */
async function prepareServices(ctx: Context, services: readonly ServiceBackend[], model: BootModel): Promise<{backend: ServiceBackend, changes: string[]}[]> {
  const out: {backend: ServiceBackend, changes: string[]}[] = []
  for (const backend of services) {
    const changes = await backend.prepare?.(ctx, model) ?? []
    if (changes.length > 0) out.push({backend, changes})
  }
  return out
}

/** The daemons whose files changed, each with its changed paths and whether it is being switched away from. */
export function touchedServices(site: SiteModel, changed: readonly string[]): Touched[] {
  const active = new Set(activeServices(site))
  const byBackend = new Map<ServiceBackend, string[]>()
  for (const p of changed) {
    const backend = serviceOwning(p)
    if (backend) byBackend.set(backend, [...byBackend.get(backend) ?? [], p])
  }
  return [...byBackend].map(([backend, paths]) => ({backend, cause: {changed: paths, retired: !active.has(backend)}}))
}
