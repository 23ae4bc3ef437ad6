import {promises as fs} from 'node:fs'

import {loadSite} from '../config/site-file.js'
import {type SiteModel} from '../config/site.js'
import {type Context} from '../base-command.js'
import {assertValidInventory, loadInventory, type Inventory} from '../nodes/inventory.js'
import {withLock} from '../system/lock.js'
import {writeFileAtomic} from '../system/files.js'
import {STATE} from '../system/paths.js'
import {bootNodes, desiredFiles} from './desired.js'
import {OWNED_PATHS, type Service} from './owned.js'
import {changeDiff, IO_CONCURRENCY, planFiles, readOwned, type Action} from './plan.js'
import {mapBounded, settled} from '../system/pool.js'
import {reloadServices, type ReloadResult} from './reload.js'
import {checkDhcpd, checkExports} from './validate.js'

export interface ApplyOptions {
  dryRun?: boolean
  reload?: boolean
  /** Already loaded (and changed) by the caller, e.g. `nodes add`, so the apply sees the new state. */
  site?: SiteModel
  inventory?: Inventory
}

export interface ApplyResult {
  dryRun: boolean
  changes: {path: string, action: Action}[]
  /** Unified diff of every change (always computed; printed by --dry-run). */
  diff: string
  reloads: ReloadResult[]
  /** Why services were not reloaded, when they were not. */
  reloadSkipped?: string
}

/** Runs fn holding the site-wide lock: one pxeroot change at a time; a second run exits busy.
 * An unconfigured root is refused before the lock's directory is created, so it stays untouched. */
export async function withSiteLock<T>(ctx: Context, fn: () => Promise<T>): Promise<T> {
  await loadSite(ctx.root)
  return withLock(ctx.root.resolve(STATE.lockFile), 'the site', fn)
}

/**
 * The one flow every boot file goes through: desired state → render → plan → validate →
 * atomic write → reload only what changed. Nothing is written unless every check passed.
 * The caller holds the site lock (see withSiteLock) unless this is a dry run.
 */
export async function applyBootConfig(ctx: Context, options: ApplyOptions = {}): Promise<ApplyResult> {
  const site = options.site ?? await loadSite(ctx.root)
  const inventory = options.inventory ?? await loadInventory(ctx.root)
  assertValidInventory(site, inventory)

  const nodes = await bootNodes(ctx.root, site, inventory)
  const desired = await desiredFiles(ctx.root, site, nodes)
  const previous = await readOwned(ctx.root)
  const plan = await planFiles(ctx.root, desired, previous)
  const changed = plan.changes.filter((c) => c.action !== 'unchanged')
  const diff = changed.map(changeDiff).join('')

  const text = (p: string) => {
    const file = desired.find((f) => f.path === p)
    return file ? file.content.toString() : undefined
  }
  // The two checkers are independent processes: run them side by side (apply is on the path of every clone).
  settled(await Promise.allSettled([
    checkDhcpd(ctx.root, ctx.runner, text(OWNED_PATHS.dhcpMain)!, text(OWNED_PATHS.dhcpInclude)!, ctx.signal),
    site.backends.nfs === 'kernel' ? checkExports(ctx.runner, text(OWNED_PATHS.kernelExports)!, ctx.signal) : Promise.resolve(),
  ]))

  const summary = changed.map((c) => ({path: c.path, action: c.action}))
  if (options.dryRun) return {dryRun: true, changes: summary, diff, reloads: []}

  const manifestFile = ctx.root.resolve(STATE.ownedManifest)
  const writeManifest = (files: string[]) => writeFileAtomic(manifestFile, JSON.stringify({files: [...new Set(files)].sort()}, null, 2) + '\n', {mode: 0o644})
  // Until the stale files are gone, the manifest lists old and new, so an interrupted run still knows them.
  if (changed.length > 0) await writeManifest([...previous.files, ...plan.owned])
  const touched = new Set(changed.map((c) => c.service).filter((s): s is Service => s !== undefined))
  // Each file is atomic on its own; any failure is reported after all were tried.
  settled(await mapBounded(changed, IO_CONCURRENCY, async (change) => {
    ctx.signal.throwIfAborted()
    const disk = ctx.root.resolve(change.path)
    if (change.action === 'delete') await fs.rm(disk, {force: true})
    else await writeFileAtomic(disk, change.after!, {mode: change.mode, forceMode: !change.edited})
  }))
  if (changed.length > 0 || previous.files.join() !== plan.owned.join()) await writeManifest(plan.owned)

  if (touched.size === 0) return {dryRun: false, changes: summary, diff, reloads: []}
  if (options.reload === false) return {dryRun: false, changes: summary, diff, reloads: [], reloadSkipped: '--no-reload'}
  if (!ctx.root.isHost) return {dryRun: false, changes: summary, diff, reloads: [], reloadSkipped: `--root ${ctx.root.prefix} is not the host's root`}
  const reloads = await reloadServices(ctx.runner, touched, site.backends.nfs, ctx.signal)
  for (const r of reloads) ctx.log(`${r.ok ? 'reloaded' : 'could not reload'} ${r.service}: ${r.action}${r.message ? ` (${r.message})` : ''}`)
  return {dryRun: false, changes: summary, diff, reloads}
}
