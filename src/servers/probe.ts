import {serverRole, type ServerRole} from '../config/servers.js'
import {type SiteModel} from '../config/site.js'
import {peerUrl} from '../render/dhcp/kea-ha.js'
import {type Runner} from '../system/runner.js'
import {parseServerRecord, SERVER_RECORD, type ServerRecord} from './record.js'

/**
 * How one server of a site with several looks from here, read the way a node reaches it: its
 * record of what it rendered over TFTP (servers/record.ts), and, with Kea, its HA hook's own
 * answer to `ha-heartbeat` on its HA listener. Each question is bounded by PROBE_S seconds, so a
 * server that is down costs that long and no more.
 */
export const PROBE_S = 2

export interface KeaHaState {
  /** The HA state machine's state: hot-standby, load-balancing, partner-down, waiting, syncing... */
  state: string
  /** The HA scopes it answers clients for right now (server names). */
  scopes: string[]
  /** Lease updates it still owes its partner. */
  unsent?: number
}

export interface ServerView {
  name: string
  address: string
  role: ServerRole
  /** This run's own server. */
  self: boolean
  /** Its TFTP server answered (a record, or "file not found"); null: not asked (under --root the site's addresses are not this machine's network's). */
  reachable: boolean | null
  /** What it says it rendered; absent when unreachable or never applied. */
  record?: ServerRecord
  /** Whether it rendered the site state this run sees (null: unknown). */
  current: boolean | null
  /** Kea's HA state as its hook answers (Kea sites with several servers only); `error` when it did not. */
  ha?: KeaHaState | {error: string}
  /** The nodes whose roots it holds. */
  roots: string[]
  /** What to act on, in words. */
  problems: string[]
}

/** A peer's `pxeroot/server.json` over TFTP (curl): the record, "missing", or undefined when nobody answered. */
export async function fetchRecord(runner: Runner, address: string): Promise<ServerRecord | 'missing' | 'unreachable'> {
  const r = await runner.run('curl', ['-sS', '--max-time', String(PROBE_S), `tftp://${address}/${SERVER_RECORD}`], {reject: false, timeout: (PROBE_S + 3) * 1000})
  // 68: "TFTP: File Not Found": its TFTP server answers, it has no record.
  if (r.exitCode === 68) return 'missing'
  if (r.exitCode !== 0) return 'unreachable'
  return parseServerRecord(r.stdout) ?? 'missing'
}

/** Kea's HA hook's answer to ha-heartbeat on the peer's HA listener (the command its partner sends every heartbeat). */
export async function fetchHaState(runner: Runner, url: string): Promise<KeaHaState | {error: string}> {
  const r = await runner.run('curl', ['-sS', '--max-time', String(PROBE_S), '-X', 'POST', '-H', 'Content-Type: application/json', '-d', '{"command": "ha-heartbeat", "service": ["dhcp4"]}', url],
    {reject: false, timeout: (PROBE_S + 3) * 1000})
  if (r.exitCode !== 0) return {error: r.stderr.trim().replace(/^curl: \(\d+\) /, '') || `curl exit ${r.exitCode}`}
  return parseHeartbeat(r.stdout)
}

/** The first answer of a Kea command response; pure. */
export function parseHeartbeat(text: string): KeaHaState | {error: string} {
  try {
    type Answer = {result?: number, text?: string, arguments?: {state?: string, scopes?: string[], 'unsent-update-count'?: number}}
    const data = JSON.parse(text) as Answer[] | Answer
    const answer = Array.isArray(data) ? data[0] : data
    const args = answer?.arguments
    if (answer?.result !== 0 || typeof args?.state !== 'string') return {error: answer?.text ?? 'no HA state in the answer'}
    return {state: args.state, scopes: args.scopes ?? [], ...(args['unsent-update-count'] === undefined ? {} : {unsent: args['unsent-update-count']})}
  } catch {
    return {error: 'not a Kea answer'}
  }
}

/**
 * Every server of the site, probed side by side. `version` is the site state this run sees;
 * `roots` which nodes each server holds. Reads only.
 */
export async function probeServers(runner: Runner | undefined, site: SiteModel, version: string, roots: ReadonlyMap<string, readonly string[]>): Promise<ServerView[]> {
  const ha = site.backends.dhcp === 'kea' && site.servers.length >= 2
  return Promise.all(site.servers.map(async (s): Promise<ServerView> => {
    const role = serverRole(site, s.name)
    if (!runner) return {name: s.name, address: s.address, role, self: s.name === site.self, reachable: null, current: null, roots: [...roots.get(s.name) ?? []], problems: []}
    const [record, state] = await Promise.all([fetchRecord(runner, s.address), ha ? fetchHaState(runner, peerUrl(site, s)) : Promise.resolve(undefined)])
    const view: ServerView = {
      name: s.name,
      address: s.address,
      role,
      self: s.name === site.self,
      reachable: record !== 'unreachable',
      ...(typeof record === 'object' ? {record} : {}),
      current: typeof record === 'object' ? record.site === version : null,
      ...(state ? {ha: state} : {}),
      roots: [...roots.get(s.name) ?? []],
      problems: [],
    }
    view.problems = serverProblems(site, view, record === 'missing')
    return view
  }))
}

/** What is wrong with one server as probed, one line each, with what it costs the nodes. */
function serverProblems(site: SiteModel, v: ServerView, noRecord: boolean): string[] {
  const out: string[] = []
  const roots = v.roots.length > 0 ? `; the roots it holds (${v.roots.join(', ')}) are not served` : ''
  if (!v.reachable) out.push(`no TFTP answer from ${v.address} in ${PROBE_S} s: down, or not on this network${roots}`)
  else if (noRecord) out.push(`its TFTP server answers but has no ${SERVER_RECORD}: run "pxeroot apply --server ${v.name}" there`)
  else if (v.current === false) out.push(`it rendered another state of the site (${v.record!.site}): run "pxeroot apply --server ${v.name}" there`)
  if (v.ha && 'error' in v.ha && v.role !== 'none') out.push(`its Kea HA listener (${peerUrl(site, {address: v.address, haAddress: site.servers.find((s) => s.name === v.name)?.haAddress})}) did not answer: ${v.ha.error}`)
  if (v.ha && 'state' in v.ha && /^(terminated|waiting|syncing)$/.test(v.ha.state)) out.push(`Kea HA is ${v.ha.state}${v.ha.state === 'terminated' ? ': it no longer exchanges leases with its partner; fix the cause (its log says), then restart kea-dhcp4-server on both' : ''}`)
  return out
}

/** "hot-standby, answering boot1" / "partner-down, answering boot1, boot2" / "-". */
export function haLine(v: Pick<ServerView, 'ha'>): string {
  if (!v.ha) return '-'
  if ('error' in v.ha) return 'no answer'
  return `${v.ha.state}${v.ha.scopes.length > 0 ? `, answering for ${v.ha.scopes.join(', ')}` : ''}`
}
