import {type SiteModel} from '../config/site.js'
import {type Context} from '../system/context.js'
import {type StorageBackend} from './backend.js'
import {localStorage} from './local.js'
import {rbdStorage} from './rbd.js'

/** The site's storage backend, bound to this run; `close` it when done (or use withStorage). */
export function storageFor(ctx: Context, site: SiteModel): StorageBackend {
  return site.storage.backend === 'rbd' ? rbdStorage(ctx, site) : localStorage(ctx, site)
}

/** Runs `fn` with the site's storage backend and closes it afterwards, whatever happens. */
export async function withStorage<T>(ctx: Context, site: SiteModel, fn: (storage: StorageBackend) => Promise<T>): Promise<T> {
  const storage = storageFor(ctx, site)
  try {
    return await fn(storage)
  } finally {
    await storage.close()
  }
}
