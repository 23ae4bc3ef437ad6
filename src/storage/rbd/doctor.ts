import {type RbdSettings} from '../../config/site.js'
import {parseRevisionRef} from '../names.js'
import {readIfExists} from '../../system/files.js'
import {type StorageCheck} from '../backend.js'
import {nodeCaps, nodeUser, REVISIONS_NAMESPACE, revisionImage, revisionSnap, ROOT_IMAGE} from './names.js'

interface Cluster {
  call<T>(op: string, args?: Record<string, unknown>): Promise<T>
  settings: RbdSettings
  keyFile(node: string): string
  where(namespace: string, image: string): string
}

interface Status {
  health: string
  checks: Record<string, string>
  pools: string[]
  compat: string
  applications: Record<string, unknown> | null
}

const list = (items: readonly string[], most = 5) => `${items.slice(0, most).join(', ')}${items.length > most ? ` (+${items.length - most})` : ''}`

/**
 * doctor on an rbd site: the cluster answers and is healthy, the pool is pxeroot's (rbd, clone
 * v2, its revisions namespace), every node's clone is there on the revision the inventory says,
 * with that revision's snapshot under it, and every node's key has the caps pxeroot gave it and
 * the secret its boot entry hands over.
 */
export async function rbdChecks(c: Cluster, nodes: readonly {name: string, image?: string}[]): Promise<StorageCheck[]> {
  const pool = c.settings.pool
  let status: Status
  try {
    status = await c.call<Status>('status')
  } catch (error) {
    return [{check: 'ceph cluster', status: 'fail', message: (error as Error).message, fix: 'check that the monitors and OSDs are up and reachable from this server ("ceph -s")'}]
  }
  const out: StorageCheck[] = []
  const detail = Object.entries(status.checks).map(([k, v]) => `${k}: ${v}`).join('; ')
  out.push(status.health === 'HEALTH_OK' ? {check: 'ceph cluster', status: 'ok', message: 'HEALTH_OK'}
    : {check: 'ceph cluster', status: status.health === 'HEALTH_ERR' ? 'fail' : 'warn', message: `${status.health}: ${detail}`, fix: 'ceph health detail'})
  if (!status.pools.includes(pool)) {
    return [...out, {check: 'rbd pool', status: 'fail', message: `pool ${pool} does not exist`, fix: `create it and run "pxeroot storage prepare --rbd ${pool}"`}]
  }
  const namespaces = await c.call<string[]>('namespaces')
  const poolProblems = [
    ...Object.keys(status.applications ?? {}).includes('rbd') ? [] : ['the rbd application is not enabled on it'],
    ...namespaces.includes(REVISIONS_NAMESPACE) ? [] : [`it has no ${REVISIONS_NAMESPACE} namespace`],
    ...['mimic', 'nautilus', 'octopus', 'pacific', 'quincy', 'reef', 'squid'].includes(status.compat) ? [] : [`require_min_compat_client is ${status.compat}, clones across namespaces need mimic`],
  ]
  out.push(poolProblems.length === 0 ? {check: 'rbd pool', status: 'ok', message: `pool ${pool}: rbd, clone v2, ${REVISIONS_NAMESPACE} namespace`}
    : {check: 'rbd pool', status: 'fail', message: `pool ${pool}: ${poolProblems.join('; ')}`, fix: `pxeroot storage prepare --rbd ${pool}`})
  if (nodes.length === 0) return out

  const missing: string[] = []
  const astray: string[] = []
  const badKeys: string[] = []
  for (const node of nodes) {
    const info = await c.call<{parent: string | null} | null>('info', {namespace: node.name, image: ROOT_IMAGE})
    if (!info) {
      missing.push(node.name)
      continue
    }
    const ref = node.image ? parseRevisionRef(node.image) : undefined
    const want = ref ? `${REVISIONS_NAMESPACE}/${revisionImage(ref)}@${revisionSnap(ref)}` : undefined
    // A clone's parent snapshot cannot be removed under it: the right parent is the revision, there.
    if (want && info.parent !== want) astray.push(`${node.name} (a clone of ${info.parent ?? 'nothing'}, not of ${node.image})`)
    const user = nodeUser(pool, node.name)
    const key = await c.call<{key: string, caps: Record<string, string>} | null>('key_info', {user})
    const wantCaps = nodeCaps(pool, node.name)
    const secret = (await readIfExists(c.keyFile(node.name)))?.toString('utf8').trim()
    if (!key) badKeys.push(`${node.name} (no client.${user})`)
    else if (!sameCaps(key.caps, wantCaps)) badKeys.push(`${node.name} (caps ${JSON.stringify(key.caps)})`)
    else if (!secret || secret !== key.key) badKeys.push(`${node.name} (its boot entry's key is not the cluster's)`)
  }
  const clones = [...missing.map((n) => `${n} has no ${c.where(n, ROOT_IMAGE)}`), ...astray]
  out.push(clones.length === 0 ? {check: 'node clones', status: 'ok', message: `${nodes.length} node(s): each a clone of its revision's snapshot`}
    : {check: 'node clones', status: missing.length === clones.length ? 'warn' : 'fail', message: list(clones), fix: missing.length === clones.length ? `pxeroot nodes clone ${nodes.length}` : 'pxeroot nodes rebase NODE --image NAME@N (a fresh clone), or fix the inventory'})
  const keyed = nodes.filter((n) => !missing.includes(n.name))
  out.push(badKeys.length === 0 ? {check: 'node keys', status: 'ok', message: `${keyed.length} key(s): each reaches only its node's namespace`}
    : {check: 'node keys', status: 'fail', message: list(badKeys), fix: `remove the key (ceph auth del client.${nodeUser(pool, 'NODE')}) and its file under /var/lib/pxeroot/rbd-keys, then pxeroot nodes rebase NODE --image NAME@N makes a new one`})
  return out
}

/** Caps as pxeroot gives them: every kind, and no other (an extra kind is a key someone widened). */
function sameCaps(have: Record<string, string>, want: Record<string, string>): boolean {
  const kinds = new Set([...Object.keys(have), ...Object.keys(want)])
  return [...kinds].every((k) => have[k] === want[k])
}
