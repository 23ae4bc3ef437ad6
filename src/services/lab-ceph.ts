import path from 'node:path'

import {loadSite} from '../config/site-file.js'
import {cephLabStatus, type CephLabStartOptions, type CephLabStartResult, type CephLabStatusResult, type CephLabStopResult, startCephLab, stopCephLab} from '../lab/ceph.js'
import {type Context} from '../system/context.js'
import {exists} from '../system/files.js'
import {withLock} from '../system/lock.js'
import {STATE} from '../system/paths.js'

/** Where `pxeroot lab ceph` keeps its cluster unless told otherwise (a host path, under --root). */
export const CEPH_LAB_DIR = path.posix.join(STATE.stateDir, 'lab', 'ceph')

/** The state directory on disk: --dir as given (a host path, resolved under --root like every other). */
function stateDir(ctx: Context, dir = CEPH_LAB_DIR): string {
  return ctx.root.resolve(path.posix.resolve('/', dir))
}

/** One start or stop of one cluster at a time: a lock beside its directory (inside would make it non-empty). */
function lockOf(dir: string): string {
  return path.join(path.dirname(dir), `.${path.basename(dir)}.lock`)
}

/** `lab ceph start`: the site (when there is one) gives the cluster an address on its boot network. */
export async function labCephStart(ctx: Context, options: Omit<CephLabStartOptions, 'dir'> & {dir?: string}): Promise<CephLabStartResult> {
  const dir = stateDir(ctx, options.dir)
  const site = options.address || !await exists(ctx.root.resolve(STATE.siteFile)) ? undefined : await loadSite(ctx.root)
  return withLock(lockOf(dir), 'the lab cluster', () => startCephLab(ctx, site, {...options, dir}))
}

export async function labCephStop(ctx: Context, options: {dir?: string, purge?: boolean}): Promise<CephLabStopResult> {
  const dir = stateDir(ctx, options.dir)
  return withLock(lockOf(dir), 'the lab cluster', () => stopCephLab(ctx, dir, {purge: options.purge}))
}

export async function labCephStatus(ctx: Context, options: {dir?: string}): Promise<CephLabStatusResult> {
  return cephLabStatus(ctx, stateDir(ctx, options.dir))
}
