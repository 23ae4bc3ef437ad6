import {type BootModel} from '../boot/model.js'
import {type SiteModel} from '../config/site.js'
import {type Inventory} from '../inventory/inventory.js'
import {type StorageBackend} from '../storage/backend.js'
import {type Context} from '../system/context.js'

/** What every doctor check gets and gives; its own module so that each group of checks
 * (checks.ts, web.ts, ...) can use it without importing the others. */
export type Status = 'ok' | 'warn' | 'fail' | 'skip'

export interface Check {
  check: string
  status: Status
  message: string
  fix?: string
}

export interface Facts {
  ctx: Context
  site: SiteModel
  storage: StorageBackend
  inventory: Inventory
  model: BootModel
}
