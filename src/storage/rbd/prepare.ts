import {type RbdSettings} from '../../config/site.js'
import {UserError} from '../../errors.js'
import {REVISIONS_NAMESPACE} from './names.js'

/**
 * What `pxeroot storage prepare --rbd POOL` finds and does (pure, from what the cluster and the
 * site say). The pool itself is the cluster admin's: pxeroot uses it, never creates or deletes it.
 */
export interface ClusterFacts {
  health: string
  checks: Record<string, string>
  pools: string[]
  /** The cluster's require_min_compat_client (a release name). */
  compat: string
  /** The pool's applications (undefined when the pool does not exist). */
  applications?: Record<string, unknown>
  namespaces: string[]
}

export type RbdStep =
  | {kind: 'application', says: string}
  | {kind: 'compat', says: string}
  | {kind: 'namespace', says: string}
  | {kind: 'site', says: string}

/** Ceph's releases in order, as require_min_compat_client names them. */
const RELEASES = ['argonaut', 'bobtail', 'cuttlefish', 'dumpling', 'emperor', 'firefly', 'giant', 'hammer', 'infernalis', 'jewel', 'kraken', 'luminous', 'mimic', 'nautilus', 'octopus', 'pacific', 'quincy', 'reef', 'squid']

/** Cross-namespace clones (a node's clone of a revision) need clone v2: clients of mimic or later. */
const CLONE_V2 = 'mimic'

export function planRbd(settings: RbdSettings, facts: ClusterFacts, siteChanges: boolean): RbdStep[] {
  const pool = settings.pool
  if (!facts.pools.includes(pool)) {
    throw new UserError(`--rbd: pool ${pool} does not exist in the cluster (pools: ${facts.pools.join(', ') || 'none'}); nothing was changed`,
      `create it first (e.g. ceph osd pool create ${pool}), or name an existing one`)
  }
  if (facts.health === 'HEALTH_ERR') {
    throw new UserError(`the cluster reports HEALTH_ERR (${Object.values(facts.checks).join('; ')}); nothing was changed`, 'bring the cluster back to health ("ceph health detail"), then run the command again')
  }
  const steps: RbdStep[] = []
  const apps = Object.keys(facts.applications ?? {})
  if (!apps.includes('rbd')) {
    if (apps.length > 0) throw new UserError(`--rbd: pool ${pool} is used by ${apps.join(', ')}, not rbd; nothing was changed`, 'give pxeroot a pool of its own')
    steps.push({kind: 'application', says: `ceph osd pool application enable ${pool} rbd`})
  }
  const have = RELEASES.indexOf(facts.compat)
  if (have < RELEASES.indexOf(CLONE_V2)) steps.push({kind: 'compat', says: `ceph osd set-require-min-compat-client ${CLONE_V2} (node clones live in other namespaces than their revision: clone v2; was ${facts.compat || 'unset'})`})
  if (!facts.namespaces.includes(REVISIONS_NAMESPACE)) steps.push({kind: 'namespace', says: `rbd namespace create ${pool}/${REVISIONS_NAMESPACE}`})
  if (siteChanges) steps.push({kind: 'site', says: `record storage.backend: rbd (pool ${pool}) in the site file`})
  return steps
}
