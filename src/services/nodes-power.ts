import {POWER_DRIVERS} from '../backends/power/drivers.js'
import {undiciHttp, type HttpClient} from '../backends/power/http.js'
import {bmcTargets, noPowerControl} from '../backends/power/targets.js'
import {BmcError, type BmcTarget, type PowerIo, type PowerState} from '../backends/power/types.js'
import {waitForPower} from '../backends/power/wait.js'
import {loadSite} from '../config/site-file.js'
import {PartialFailureError, PxerootError, UserError} from '../errors.js'
import {assertValidInventory, loadInventory} from '../inventory/inventory.js'
import {selectNodes} from '../inventory/ranges.js'
import {type Context} from '../system/context.js'
import {mapBounded} from '../system/pool.js'

export const POWER_VERBS = ['status', 'on', 'off', 'soft', 'cycle'] as const
export type PowerVerb = typeof POWER_VERBS[number]

export interface PowerOptions {
  nodes: string[] | 'all'
  verb: PowerVerb
  /** Seconds to wait for the power to reach the state asked for (soft: for the OS to shut down). */
  timeout: number
  http?: HttpClient
}

export interface PowerNodeResult {
  name: string
  driver: string
  bmc: string
  /** The power as the BMC last said; null when it could not be asked. */
  power: PowerState | null
  ok: boolean
  /** What was done, or why not. */
  message: string
}

export interface PowerResult {
  verb: PowerVerb
  nodes: PowerNodeResult[]
}

/** BMCs asked at once: each call is a few UDP or HTTPS exchanges, mostly waiting. */
const AT_ONCE = 8
/** Between a hard power-off and the power-on of a cycle, as IPMI's own cycle waits. */
const CYCLE_GAP_MS = 2000

/** What one verb does to one node: asks, then waits (bounded) for the BMC to report the state. */
async function powerOne(target: BmcTarget, verb: PowerVerb, io: PowerIo, timeoutMs: number): Promise<PowerNodeResult> {
  const driver = POWER_DRIVERS[target.bmc.driver]
  const base = {name: target.node, driver: driver.name, bmc: target.bmc.address}
  const reach = async (want: PowerState, action: 'on' | 'off' | 'soft'): Promise<PowerNodeResult> => {
    if (await driver.status(target, io) === want) return {...base, power: want, ok: true, message: `already ${want}`}
    await driver.act(target, action, io)
    if (await waitForPower(driver, target, io, want, timeoutMs)) return {...base, power: want, ok: true, message: action === 'soft' ? 'shut down' : `powered ${want}`}
    const hint = action === 'soft' ? `: its OS did not shut down ("pxeroot nodes power ${target.node} off" cuts the power)` : ''
    return {...base, power: await driver.status(target, io), ok: false, message: `still ${want === 'on' ? 'off' : 'on'} after ${timeoutMs / 1000} s${hint}`}
  }
  try {
    switch (verb) {
      case 'status': return {...base, power: await driver.status(target, io), ok: true, message: ''}
      case 'on': return await reach('on', 'on')
      case 'off': return await reach('off', 'off')
      case 'soft': return await reach('off', 'soft')
      case 'cycle': {
        // Off then on, the same on every BMC (IPMI's own cycle does nothing to a machine that is off).
        const off = await reach('off', 'off')
        if (!off.ok) return off
        await new Promise((r) => setTimeout(r, CYCLE_GAP_MS))
        const on = await reach('on', 'on')
        return on.ok ? {...on, message: 'power cycled'} : on
      }
    }
  } catch (error) {
    if (io.signal?.aborted) throw io.signal.reason
    if (!(error instanceof BmcError) && !(error instanceof PxerootError)) throw error
    return {...base, power: null, ok: false, message: error.message.replace(`${target.node}: `, '')}
  }
}

/**
 * `nodes power NODE... status|on|off|soft|cycle`: through each node's BMC (IPMI or Redfish), a
 * few at a time, waiting for the BMC to report the state asked for. Refused before any BMC is
 * contacted when a node has no BMC or no password. Exit 0 when every node did as asked, 4 when
 * some did not, 1 when none did.
 */
export async function powerNodes(ctx: Context, options: PowerOptions): Promise<PowerResult> {
  if (!Number.isFinite(options.timeout) || options.timeout < 1) throw new UserError('--timeout: must be at least 1 second')
  const site = await loadSite(ctx.root)
  const inventory = await loadInventory(ctx.root)
  assertValidInventory(site, inventory)
  if (options.nodes !== 'all' && options.nodes.length === 0) throw new UserError('name the nodes, e.g. "pxeroot nodes power node01..node10 status", or pass --all')
  const nodes = options.nodes === 'all' ? [...inventory.nodes] : selectNodes(inventory, options.nodes)
  const {targets, problems} = await bmcTargets(ctx.root, nodes)
  if (problems.length > 0) throw noPowerControl(problems, options.verb === 'status' ? 'asked' : 'powered')
  const io: PowerIo = {runner: ctx.runner, http: options.http ?? undiciHttp, signal: ctx.signal}
  const settled = await mapBounded(targets, AT_ONCE, (t) => powerOne(t, options.verb, io, options.timeout * 1000))
  if (ctx.signal.aborted) throw ctx.signal.reason
  const results = settled.map((s) => {
    if (s.status === 'rejected') throw s.reason
    return s.value
  })
  const result = {verb: options.verb, nodes: results}
  const failed = results.filter((r) => !r.ok)
  if (failed.length > 0) {
    const message = `${failed.length} of ${results.length} node(s) failed: ${failed.map((r) => `${r.name} (${r.message})`).join('; ')}`
    throw failed.length < results.length ? new PartialFailureError(message, result) : new PxerootError(message, undefined, result)
  }
  return result
}
