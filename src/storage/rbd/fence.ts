import {type SiteModel} from '../../config/site.js'
import {PreconditionError, PxerootError} from '../../errors.js'
import {ClusterTimeoutError, RbdSession} from '../../system/ceph.js'
import {type Context} from '../../system/context.js'
import {localAddresses} from '../../system/host.js'
import {nodeRootDir} from '../names.js'
import {clientOf, rbdSettings} from './cluster.js'
import {gatewayLoop} from './gateway.js'
import {ROOT_IMAGE} from './names.js'

/**
 * Fencing a lost rbd gateway (storage.rbd.mode: gateway) before another server attaches its
 * nodes' clones: librbd's exclusive lock is cooperative, so a gateway that still runs (a frozen
 * daemon, a server cut from its nodes but not from the cluster) would be handed the lock back on
 * its next write and two writers would corrupt the ext4. So every client that holds a lock on, or
 * watches, one of those clones is blocklisted in the cluster by its instance address
 * (ADDR:PORT/NONCE: that client process alone, not its host), then the locks are broken. A
 * blocklisted client's every later operation fails; the lost server's daemons, once restarted,
 * are new instances and unaffected. Never fenced: this session's own addresses and clones this
 * server has attached itself.
 */

/** How long a fenced client stays blocklisted: far longer than any freeze it could wake from, far
 * shorter than the osdmap should carry dead instances (the cluster's default, 1 h, is not enough
 * for a server whose daemons were paused, say by a hypervisor). */
export const FENCE_EXPIRE_S = 7 * 24 * 3600

export interface RootLocker {
  /** The locker's entity (client.4567). */
  client: string
  cookie: string
  /** Its instance address, ADDR:PORT/NONCE. */
  address: string
}

export interface FenceTarget {
  node: string
  /** POOL/NODE/root. */
  image: string
  lockers: RootLocker[]
  /** Addresses of the clients that have it open. */
  watchers: string[]
}

export interface FencePlan {
  targets: FenceTarget[]
  /** Every address to blocklist: the targets' lockers and watchers, each once. */
  addresses: string[]
  /** Nodes left alone, and why (attached here already, no clone). */
  skipped: {node: string, why: string}[]
}

export interface FenceDone {
  /** Addresses blocklisted, for expireSeconds. */
  blocklisted: string[]
  expireSeconds: number
  /** Locks broken, per node. */
  broken: {node: string, client: string, address: string}[]
}

type Holders = {lockers: RootLocker[], watchers: string[]} | null

/** The address's host part (10.0.0.12 of 10.0.0.12:0/3591204351, or of v2:10.0.0.12:0/3591204351). */
function hostOf(address: string): string {
  return address.replace(/^v[12]:/, '').replace(/:\d+\/\d+$/, '')
}

/**
 * A cluster that stopped answering while the fence ran: exit 3, saying what was done so far (a
 * blocklist cannot be taken back, and need not be: it names dead instances only).
 */
function refusal(error: unknown, done: string): never {
  if (error instanceof ClusterTimeoutError) {
    throw new PreconditionError(`the Ceph cluster did not answer while fencing (${error.message.replace(/; nothing was changed$/, '')}); ${done}`,
      'check that its monitors and OSDs answer from this server ("ceph -s"), then run the takeover again: it fences what is still to fence')
  }
  throw error
}

/**
 * Who holds each node's clone, and so what a fence would blocklist and break (reads only).
 * Refused when a holder is this server itself: its own session, or (outside a lab namespace) an
 * address this machine holds.
 */
export async function planFence(ctx: Context, site: SiteModel, nodes: readonly string[]): Promise<FencePlan> {
  const settings = rbdSettings(site)
  const session = new RbdSession(clientOf(ctx.root, settings))
  try {
    const targets: FenceTarget[] = []
    const skipped: FencePlan['skipped'] = []
    const own = await session.call<string>('self').catch((error: unknown) => refusal(error, 'nothing was fenced, attached or changed'))
    // Clients in the site's network namespace (lab, tests) have its addresses, not this machine's.
    const local = settings.netns ? [] : localAddresses()
    for (const node of nodes) {
      if (await gatewayLoop(ctx, site, node)) {
        skipped.push({node, why: `attached at ${nodeRootDir(site, node)} on this server already`})
        continue
      }
      const found = await session.call<Holders>('holders', {namespace: node, image: ROOT_IMAGE}).catch((error: unknown) => refusal(error, 'nothing was fenced, attached or changed'))
      if (!found) {
        skipped.push({node, why: 'no clone in the pool'})
        continue
      }
      const target: FenceTarget = {node, image: `${settings.pool}/${node}/${ROOT_IMAGE}`, ...found}
      const mine = [...target.lockers.map((l) => l.address), ...target.watchers].filter((a) => own.includes(a.replace(/^v[12]:/, '')) || local.includes(hostOf(a)))
      if (mine.length > 0) {
        throw new PreconditionError(`${target.image} is held by a client of this server (${[...new Set(mine)].join(', ')}), not of the lost one: a takeover never fences its own server; nothing was changed`,
          `find what holds it here ("rbd status ${target.image}", "rbd lock ls ${target.image}") and stop it, then run the takeover again`)
      }
      targets.push(target)
    }
    const addresses = [...new Set(targets.flatMap((t) => [...t.lockers.map((l) => l.address), ...t.watchers]))]
    return {targets, addresses, skipped}
  } finally {
    await session.close()
  }
}

/**
 * Carries out a plan: every address blocklisted first (so none of them can take a lock back),
 * then each clone's locks broken. Each request is bounded (CEPH_TIMEOUT_S); a cluster that stops
 * answering is refused with what was done so far.
 */
export async function fence(ctx: Context, site: SiteModel, plan: FencePlan): Promise<FenceDone> {
  const session = new RbdSession(clientOf(ctx.root, rbdSettings(site)))
  const done: FenceDone = {blocklisted: [], expireSeconds: FENCE_EXPIRE_S, broken: []}
  const sofar = () => `${done.blocklisted.length > 0 ? `blocklisted so far: ${done.blocklisted.join(', ')}` : 'nothing was blocklisted'}${done.broken.length > 0 ? `; locks broken on ${done.broken.map((b) => b.node).join(', ')}` : ''}; nothing was attached or changed`
  try {
    if (plan.addresses.length > 0) {
      await session.call('blocklist', {addresses: plan.addresses, expire: FENCE_EXPIRE_S}).catch((error: unknown) => refusal(error, sofar()))
      done.blocklisted.push(...plan.addresses)
    }
    for (const target of plan.targets.filter((t) => t.lockers.length > 0)) {
      const broken = await session.call<RootLocker[]>('break_locks', {namespace: target.node, image: ROOT_IMAGE, lockers: target.lockers}).catch((error: unknown) => refusal(error, sofar()))
      done.broken.push(...broken.map((l) => ({node: target.node, client: l.client, address: l.address})))
    }
    // Each clone must be no one's now: a locker that appeared since the plan was made is not ours to break unseen.
    for (const target of plan.targets) {
      const now = await session.call<Holders>('holders', {namespace: target.node, image: ROOT_IMAGE}).catch((error: unknown) => refusal(error, sofar()))
      const left = now?.lockers ?? []
      if (left.length > 0) {
        throw new PxerootError(`${target.image} was locked again while it was fenced, by ${left.map((l) => `${l.client} at ${l.address}`).join(', ')}: another server is taking it over; ${sofar()}`,
          'find which server holds it ("rbd lock ls"), settle which one takes over, and run the takeover again there')
      }
    }
    return done
  } finally {
    await session.close()
  }
}
