import {createHash} from 'node:crypto'
import path from 'node:path'

import {type BootModel} from '../boot/model.js'
import {serverRole, type ServerRole} from '../config/servers.js'
import {siteFields, type SiteModel} from '../config/site.js'
import {serializeInventory, type Inventory} from '../inventory/inventory.js'

/**
 * What each server of a site with several publishes about itself in its tftp root, where every
 * other server (and anyone on the boot network) reads it as a node would reach the server: by
 * TFTP, `pxeroot/server.json`. It says which server it is and which state of the site it last
 * rendered; nothing secret, and nothing that changes unless the site does (so an apply with
 * nothing to do writes nothing).
 */
export const SERVER_RECORD = 'pxeroot/server.json'

export interface ServerRecord {
  format: 1
  server: string
  address: string
  role: ServerRole
  /** The state of the site it rendered (siteVersion). */
  site: string
  /** How many nodes it boots (every node: any server may answer any node) and whose roots it exports. */
  nodes: number
  roots: string[]
}

/**
 * The state of the site a server renders, as a short digest of the site's fields and the
 * inventory: two servers with the same site and nodes say the same, whatever their files look like.
 */
export function siteVersion(site: SiteModel, inventory: Inventory): string {
  return createHash('sha256').update(JSON.stringify(siteFields(site))).update('\n').update(serializeInventory(inventory)).digest('hex').slice(0, 12)
}

export function serverRecord(model: BootModel, version: string): ServerRecord {
  const {site} = model
  const self = site.servers.find((s) => s.name === site.self)
  if (!self) throw new Error('internal: a server record needs the server it is for')
  return {format: 1, server: self.name, address: self.address, role: serverRole(site, self.name), site: version, nodes: model.nodes.length, roots: model.nodes.filter((n) => n.exportedHere).map((n) => n.name)}
}

export function renderServerRecord(record: ServerRecord): string {
  return JSON.stringify(record, null, 2) + '\n'
}

/** A record as read back (from a peer over TFTP); undefined when it is not one. */
export function parseServerRecord(text: string): ServerRecord | undefined {
  try {
    const data = JSON.parse(text) as Partial<ServerRecord>
    return data.format === 1 && typeof data.server === 'string' && typeof data.site === 'string' ? data as ServerRecord : undefined
  } catch {
    return undefined
  }
}

/** The record's host path under the site's tftp root. */
export function serverRecordPath(site: Pick<SiteModel, 'paths'>): string {
  return path.posix.join(site.paths.tftp, SERVER_RECORD)
}
