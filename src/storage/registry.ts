import {type SiteModel} from '../config/site.js'
import {type Context} from '../system/context.js'
import {type StorageBackend} from './backend.js'
import {localStorage} from './local.js'

/** The site's storage backend, bound to this run; `close` it when done (or use withStorage). The
 * rbd backend (the Ceph client, block devices, the gateway: ~8 ms of CPU to load beside the local
 * one) is loaded only on a site that keeps its roots there, not by `nodes list` of a local site. */
export async function storageFor(ctx: Context, site: SiteModel): Promise<StorageBackend> {
  return site.storage.backend === 'rbd' ? (await import('./rbd.js')).rbdStorage(ctx, site) : localStorage(ctx, site)
}

/** Runs `fn` with the site's storage backend and closes it afterwards, whatever happens. */
export async function withStorage<T>(ctx: Context, site: SiteModel, fn: (storage: StorageBackend) => Promise<T>): Promise<T> {
  const storage = await storageFor(ctx, site)
  try {
    return await fn(storage)
  } finally {
    await storage.close()
  }
}
