import {promises as fs} from 'node:fs'

import {type RbdSettings, type SiteModel} from '../../config/site.js'
import {PreconditionError, UserError} from '../../errors.js'
import {type CephClient} from '../../system/ceph.js'
import {type Root} from '../../system/paths.js'
import {monitorsFromCephConf} from './ceph-conf.js'

/** The site's rbd settings; a site on another backend has none. */
export function rbdSettings(site: SiteModel): RbdSettings {
  if (site.storage.backend !== 'rbd' || !site.storage.rbd) throw new Error('internal: the site keeps its storage on its own disk')
  return site.storage.rbd
}

/** pxeroot's own Ceph client for the site (ceph.conf a host path, resolved under --root). */
export function clientOf(root: Root, settings: RbdSettings): CephClient {
  return {conf: root.resolve(settings.cephConf), id: settings.id, pool: settings.pool, netns: settings.netns}
}

/** The monitors nodes are told: the site's, else ceph.conf's mon_host (msgr v1 addresses). */
export async function nodeMonitors(root: Root, settings: RbdSettings): Promise<string[]> {
  if (settings.monitors) return [...settings.monitors]
  const text = await fs.readFile(root.resolve(settings.cephConf), 'utf8').catch(() => {
    throw new PreconditionError(`storage.rbd.cephConf: ${settings.cephConf} cannot be read`, 'give the cluster\'s ceph.conf, or list the monitors in storage.rbd.monitors')
  })
  const {monitors, unusable, found} = monitorsFromCephConf(text)
  if (monitors.length > 0) return monitors
  throw new UserError(`${settings.cephConf}: ${found ? `mon_host has no IPv4 msgr v1 address a node's kernel can use${unusable.length > 0 ? ` (${unusable.join(', ')})` : ''}` : 'has no mon_host'}`,
    'list the monitors nodes reach in the site file: storage.rbd.monitors: [ADDR:6789, ...]')
}
