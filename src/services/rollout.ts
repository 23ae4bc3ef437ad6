import {setTimeout as sleep} from 'node:timers/promises'

import {POWER_DRIVERS} from '../backends/power/drivers.js'
import {undiciHttp, type HttpClient} from '../backends/power/http.js'
import {bmcTargets, noPowerControl} from '../backends/power/targets.js'
import {BmcError, BmcRefusals, type BmcTarget, type PowerIo, type PowerState} from '../backends/power/types.js'
import {waitForPower} from '../backends/power/wait.js'
import {formatDuration} from '../config/duration.js'
import {loadSite} from '../config/site-file.js'
import {type SiteModel} from '../config/site.js'
import {EXIT, PxerootError, UserError} from '../errors.js'
import {hasBootReport} from '../images/boot-report.js'
import {currentRevision, formatRevisionRef, parseRevisionRef} from '../images/layout.js'
import {requireBootableRevision} from '../images/revision-ref.js'
import {runSteps} from '../images/progress.js'
import {assertValidInventory, loadInventory, type Inventory} from '../inventory/inventory.js'
import {selectNodes} from '../inventory/ranges.js'
import {planRollout, type Plan, waveName} from '../rollout/plan.js'
import {FINAL_STEPS, type NodeRecord, type NodeStep, readRecords, type RolloutRecord, ROLLOUT_LOCK, rolloutId, saveRecord, unfinished} from '../rollout/record.js'
import {readBootReport} from '../status/booted.js'
import {withStorage} from '../storage/registry.js'
import {type Context} from '../system/context.js'
import {acquireLock} from '../system/lock.js'
import {serial} from '../system/pool.js'
import {rebaseNodes} from './nodes-rebase.js'
import {rollbackNode} from './nodes-rollback.js'
import {readStatus} from './status.js'

export interface RolloutOptions {
  /** A revision (NAME@N), an image (its current revision), or "latest": each node's image's current revision. */
  target: string
  /** With "latest": only the nodes of this image. */
  image?: string
  nodes: string[] | 'all'
  canary?: number
  wave?: number
  /** Seconds a node gets from its power-on to come up on the new revision. */
  timeout?: number
  /** Seconds a node's OS gets to shut down before its power is cut. */
  shutdownTimeout?: number
  dryRun?: boolean
  /** Roll out a revision a rollout already found not to boot. */
  retry?: boolean
  http?: HttpClient
  /** How often a booting node is looked at (tests shorten it). */
  pollMs?: number
}

export interface RolloutResult {
  record?: RolloutRecord
  /** --dry-run: the plan, and each moving node's power now. */
  plan?: Plan & {power: Record<string, PowerState>}
  /** Why nothing was done. */
  nothing?: string
}

/** A rollout that did not end with every node up on its revision: the record rides along (--json, the report). */
export class RolloutFailedError extends PxerootError {
  override readonly exitCode: number = EXIT.failed
}

/** The target as the record names it: NAME@N, or "latest". */
async function resolveTarget(ctx: Context, site: SiteModel, target: string, only?: string): Promise<{text: string, targetOf: (image: string, named: boolean) => string | undefined, currents: Map<string, string | undefined>}> {
  const currents = new Map<string, string | undefined>()
  if (target === 'latest') {
    const of = (image: string) => parseRevisionRef(image)!.image
    return {text: only ? `${only}@latest` : 'latest', currents, targetOf: (image) => (only && of(image) !== only ? undefined : currents.get(of(image)))}
  }
  const ref = await requireBootableRevision(ctx, site, target, 'REVISION')
  const text = formatRevisionRef(ref)
  // With --all only the image's own nodes move; a node named on the command line goes wherever it is told.
  return {text, currents, targetOf: (image, named) => (named || parseRevisionRef(image)?.image === ref.image ? text : undefined)}
}

const BOOTED_POLL_MS = 3000
/** A node's power is asked every so many polls while it boots: one that went off failed. */
const POWER_EVERY = 5
const POWER_CHANGE_MS = 60_000

/**
 * One rollout's run: the record, saved at every step, and the BMCs. Each wave goes through the
 * same phases for its nodes together: power off (the OS asked first, the power cut after
 * shutdownTimeout), rebase (one `nodes rebase` of the wave, keeping node-local state), power on,
 * and the wait for each node to prove it came up on its new revision (its boot report in its new
 * root, with a new boot id) with its lease and root mounted (status UP). A node that does not is
 * powered off, rolled back (`nodes rollback`), powered on and checked the same way, and the
 * rollout stops after its wave.
 */
class RolloutRun {
  private readonly save = serial()
  private readonly io: PowerIo

  constructor(private readonly ctx: Context, private readonly site: SiteModel, private readonly record: RolloutRecord, private readonly targets: Map<string, BmcTarget>, http: HttpClient, private readonly pollMs: number) {
    this.io = {runner: ctx.runner, http, signal: ctx.signal}
  }

  private async step(n: NodeRecord, step: NodeStep, note?: string, say?: (line: string) => void): Promise<void> {
    n.step = step
    n.events.push({at: new Date().toISOString(), step, ...(note ? {note} : {})})
    say?.(`${n.name}: ${note ?? step}`)
    await this.save(() => saveRecord(this.ctx, this.record))
  }

  /** The node's boot report, read from its root through the storage seam. */
  private report(name: string) {
    return withStorage(this.ctx, this.site, (storage) => readBootReport(storage, name))
  }

  private driver(name: string) {
    const target = this.targets.get(name)!
    return {target, driver: POWER_DRIVERS[target.bmc.driver]}
  }

  /** Off: the OS asked to shut down (soft) unless `hard`, the power cut when it has not within shutdownTimeout. */
  private async powerOff(name: string, hard: boolean, say: (line: string) => void): Promise<void> {
    const {target, driver} = this.driver(name)
    if (await driver.status(target, this.io) === 'off') return
    if (!hard) {
      await driver.act(target, 'soft', this.io)
      if (await waitForPower(driver, target, this.io, 'off', this.record.options.shutdownTimeout * 1000)) return
      say(`${name}: still on after ${formatDuration(this.record.options.shutdownTimeout)} of shutdown: cutting its power`)
    }
    await driver.act(target, 'off', this.io)
    if (!await waitForPower(driver, target, this.io, 'off', POWER_CHANGE_MS)) throw new Error(`its BMC did not power it off within ${POWER_CHANGE_MS / 1000} s`)
  }

  private async powerOn(name: string): Promise<void> {
    const {target, driver} = this.driver(name)
    if (await driver.status(target, this.io) === 'on') return
    await driver.act(target, 'on', this.io)
    if (!await waitForPower(driver, target, this.io, 'on', POWER_CHANGE_MS)) throw new Error(`its BMC did not power it on within ${POWER_CHANGE_MS / 1000} s`)
  }

  /**
   * Until each node has proved it booted `revisionOf(node)`: a boot report in its root naming that
   * revision with a boot id other than before, and status UP. A node whose power goes off while
   * it boots has failed (crashed, or powered down by its firmware), and so has one not up by the
   * deadline. Resolves with each node's failure (undefined: up).
   */
  private async waitUp(nodes: NodeRecord[], revisionOf: (n: NodeRecord) => string, say: (line: string) => void): Promise<Map<string, string | undefined>> {
    const out = new Map<string, string | undefined>()
    const deadline = Date.now() + this.record.options.timeout * 1000
    const seen = new Map<string, string>()
    for (let round = 0; out.size < nodes.length; round++) {
      this.ctx.signal.throwIfAborted()
      const waiting = nodes.filter((n) => !out.has(n.name))
      const status = await readStatus(this.ctx, waiting.map((n) => n.name)).catch(() => undefined)
      for (const n of waiting) {
        const report = await this.report(n.name)
        const want = revisionOf(n)
        const state = status?.nodes.find((s) => s.name === n.name)?.state ?? 'unknown'
        const booted = report !== undefined && report.bootId !== n.bootIdBefore && report.revision === want
        const now = `${state.toUpperCase()}${booted ? `, booted ${want}` : ''}`
        if (seen.get(n.name) !== now) {
          seen.set(n.name, now)
          say(`${n.name}: ${now}`)
        }
        if (booted && state === 'up') out.set(n.name, undefined)
        else if (Date.now() > deadline) out.set(n.name, `not up on ${want} after ${formatDuration(this.record.options.timeout)} (status ${state}${report && report.bootId !== n.bootIdBefore ? `, it reported booting ${report.revision ?? 'an unknown revision'}` : ', no new boot reported'})`)
      }
      if (out.size === nodes.length) break
      if (round % POWER_EVERY === POWER_EVERY - 1) {
        for (const n of nodes.filter((x) => !out.has(x.name))) {
          const {target, driver} = this.driver(n.name)
          const power = await driver.status(target, this.io).catch(() => undefined)
          if (power === 'off') out.set(n.name, `it powered off while booting ${revisionOf(n)}`)
        }
      }
      if (out.size < nodes.length) await sleep(this.pollMs, undefined, {signal: this.ctx.signal})
    }
    return out
  }

  /** One wave, each node from the step it is at (a resumed run's nodes may be anywhere). */
  async wave(names: string[], say: (line: string) => void): Promise<void> {
    const nodes = names.map((name) => this.record.nodes[name]).filter((n) => !FINAL_STEPS.includes(n.step))
    const at = (...steps: NodeStep[]) => nodes.filter((n) => steps.includes(n.step))
    const fail = async (n: NodeRecord, why: string, next: NodeStep) => {
      n.failure = why
      await this.step(n, next, `failed: ${why}`, say)
    }
    const each = (list: NodeRecord[], fn: (n: NodeRecord) => Promise<void>) => Promise.all(list.map(fn))

    // Off, remembering the boot each node was on.
    await each(at('pending', 'off'), async (n) => {
      if (n.step === 'pending') {
        n.bootIdBefore = (await this.report(n.name))?.bootId
        await this.step(n, 'off', 'powering off (its OS asked to shut down first)', say)
      }
      try {
        await this.powerOff(n.name, false, say)
        await this.step(n, 'rebase', `off; rebasing onto ${n.to}`, say)
      } catch (error) {
        if (this.ctx.signal.aborted) throw error
        await fail(n, `could not power it off: ${(error as Error).message}`, 'back-on')
      }
    })

    // Rebase, one `nodes rebase` per target revision. The BMC says the node is off, so NFS
    // clients the server still remembers for its root are stale: forced.
    const inventory = await loadInventory(this.ctx.root)
    for (const n of at('rebase')) if (inventory.nodes.find((e) => e.name === n.name)?.image === n.to) await this.step(n, 'on', `on ${n.to}; powering on`, say)
    for (const to of new Set(at('rebase').map((n) => n.to))) {
      const group = at('rebase').filter((n) => n.to === to)
      try {
        await rebaseNodes(this.ctx, {nodes: group.map((n) => n.name), image: to, force: true})
        for (const n of group) await this.step(n, 'on', `rebased onto ${to}; powering on`, say)
      } catch (error) {
        if (this.ctx.signal.aborted) throw error
        const done = (error as {result?: {rebased?: {name: string}[]}}).result?.rebased?.map((r) => r.name) ?? []
        for (const n of group) {
          if (done.includes(n.name)) await this.step(n, 'on', `rebased onto ${to}; powering on`, say)
          else await fail(n, `nodes rebase failed: ${(error as Error).message}`, 'back-on')
        }
      }
    }

    await each(at('on'), async (n) => {
      try {
        await this.powerOn(n.name)
        await this.step(n, 'boot', `powered on; waiting up to ${formatDuration(this.record.options.timeout)} for it to come up on ${n.to}`, say)
      } catch (error) {
        if (this.ctx.signal.aborted) throw error
        await fail(n, `could not power it on: ${(error as Error).message}`, 'back-off')
      }
    })

    const booted = await this.waitUp(at('boot'), (n) => n.to, say)
    for (const n of at('boot')) {
      const why = booted.get(n.name)
      if (why === undefined) await this.step(n, 'up', `up on ${n.to}`, say)
      else await fail(n, why, 'back-off')
    }

    // Back to the old revision, for every node that did not come up.
    await each(at('back-off'), async (n) => {
      try {
        await this.powerOff(n.name, true, say)
        await this.step(n, 'rollback', `off; rolling back to ${n.from}`, say)
      } catch (error) {
        if (this.ctx.signal.aborted) throw error
        n.rollbackFailure = `could not power it off: ${(error as Error).message}`
        await this.step(n, 'stuck', n.rollbackFailure, say)
      }
    })
    const now = await loadInventory(this.ctx.root)
    for (const n of at('rollback')) {
      try {
        if (now.nodes.find((e) => e.name === n.name)?.image !== n.from) await rollbackNode(this.ctx, n.name, {force: true})
        await this.step(n, 'back-on', `on ${n.from} again; powering on`, say)
      } catch (error) {
        if (this.ctx.signal.aborted) throw error
        n.rollbackFailure = `nodes rollback failed: ${(error as Error).message}`
        await this.step(n, 'stuck', n.rollbackFailure, say)
      }
    }
    await each(at('back-on'), async (n) => {
      try {
        await this.powerOn(n.name)
        await this.step(n, 'back-boot', `powered on; waiting for it to come up on ${n.from}`, say)
      } catch (error) {
        if (this.ctx.signal.aborted) throw error
        n.rollbackFailure = `could not power it on: ${(error as Error).message}`
        await this.step(n, 'stuck', n.rollbackFailure, say)
      }
    })
    const back = await this.waitUp(at('back-boot'), (n) => n.from, say)
    for (const n of at('back-boot')) {
      const why = back.get(n.name)
      if (why === undefined) await this.step(n, 'rolled-back', `up on ${n.from} again`, say)
      else {
        n.rollbackFailure = why
        await this.step(n, 'stuck', why, say)
      }
    }
  }

  /** Every wave from the first with a node not yet at its end; stops after a wave where a node failed. */
  async run(): Promise<void> {
    const {record, ctx} = this
    const tty = Boolean(process.stderr.isTTY) && !process.env.CI && !ctx.json
    try {
      for (const [i, wave] of record.waves.entries()) {
        if (wave.every((name) => FINAL_STEPS.includes(record.nodes[name].step))) {
          if (wave.some((name) => record.nodes[name].step !== 'up')) break
          continue
        }
        const title = `${waveName(i, record.options.canary > 0)}: ${wave.join(', ')}`
        await runSteps(ctx, [{
          title,
          run: async (output) => {
            await this.wave(wave, tty ? output : (line) => ctx.log(`[${new Date().toISOString().slice(11, 19)}]   ${line}`))
            const failed = wave.filter((name) => record.nodes[name].step !== 'up')
            return failed.length === 0 ? `${wave.length} up on the new revision` : `${failed.join(', ')} did not come up: ${failed.map((f) => record.nodes[f].step).join(', ')}`
          },
        }])
        if (wave.some((name) => record.nodes[name].step !== 'up')) break
      }
      const all = Object.values(record.nodes)
      record.state = all.every((n) => n.step === 'up') ? 'done' : 'failed'
    } catch (error) {
      record.state = 'interrupted'
      throw error
    } finally {
      record.ended = new Date().toISOString()
      await this.save(() => saveRecord(ctx, record))
    }
  }
}

/** The BMC of every node of the plan, asked once: every problem in one line each, before any node is touched. */
async function checkBmcs(ctx: Context, site: SiteModel, inventory: Inventory, names: readonly string[], http: HttpClient): Promise<{targets: Map<string, BmcTarget>, power: Record<string, PowerState>}> {
  const {targets, problems} = await bmcTargets(ctx.root, inventory.nodes.filter((n) => names.includes(n.name)))
  if (problems.length > 0) throw noPowerControl(problems, 'rolled out')
  const io: PowerIo = {runner: ctx.runner, http, signal: ctx.signal}
  const answers = await Promise.all(targets.map((t) => POWER_DRIVERS[t.bmc.driver].status(t, io).then((p) => p, (e: unknown) => e)))
  if (ctx.signal.aborted) throw ctx.signal.reason
  const errors = answers.filter((a): a is BmcError => a instanceof BmcError)
  const other = answers.find((a) => a instanceof Error && !(a instanceof BmcError))
  if (other) throw other
  if (errors.length > 0) throw new BmcRefusals(errors, 'no node was touched')
  return {targets: new Map(targets.map((t) => [t.node, t])), power: Object.fromEntries(targets.map((t, i) => [t.node, answers[i] as PowerState]))}
}

/** Each target revision can be booted, and can prove a boot (its image has the boot report). */
async function checkRevisions(ctx: Context, site: SiteModel, revisions: readonly string[]): Promise<void> {
  for (const text of revisions) {
    const ref = await requireBootableRevision(ctx, site, text, 'REVISION')
    if (!await withStorage(ctx, site, (storage) => storage.withRevisionTree(ref, hasBootReport))) {
      throw new UserError(`${text} was built before pxeroot's boot report: a node booting it cannot prove it came up`, `make a revision that has it: pxeroot image exec ${ref.image} -- true`)
    }
  }
}

function failure(record: RolloutRecord): RolloutFailedError {
  const bad = Object.values(record.nodes).filter((n) => n.step === 'rolled-back' || n.step === 'stuck')
  return new RolloutFailedError(`rollout to ${record.target} failed: ${bad.map((n) => `${n.name} ${n.step === 'stuck' ? 'is stuck' : 'was rolled back'} (${n.failure})`).join('; ')}`, 'see "pxeroot rollout status"', record)
}

/** Runs (or carries on) a record to its end, holding the rollout lock; throws with the record when it did not end done. */
async function carryOn(ctx: Context, site: SiteModel, record: RolloutRecord, targets: Map<string, BmcTarget>, options: Pick<RolloutOptions, 'http' | 'pollMs'>): Promise<RolloutResult> {
  record.state = 'running'
  record.pid = process.pid
  await saveRecord(ctx, record)
  await new RolloutRun(ctx, site, record, targets, options.http ?? undiciHttp, options.pollMs ?? BOOTED_POLL_MS).run()
  if ((record.state as RolloutRecord['state']) !== 'done') throw failure(record)
  return {record}
}

async function withRolloutLock<T>(ctx: Context, fn: () => Promise<T>): Promise<T> {
  const lock = await acquireLock(ctx.root.resolve(ROLLOUT_LOCK), 'rollout')
  try {
    return await fn()
  } finally {
    await lock.release()
  }
}

/** The unfinished rollout, if any (a killed or interrupted run), newest first. */
async function unfinishedRecord(ctx: Context): Promise<RolloutRecord | undefined> {
  return (await readRecords(ctx.root)).reverse().find(unfinished)
}

/**
 * `rollout REVISION|--latest [--all|NODE...]`: moves nodes onto a revision wave by wave through
 * their BMCs, proving each came up on it and rolling back the wave's nodes that did not, then
 * stopping. Refused before any node is touched: a node without a usable BMC (every one is asked
 * first), a revision nodes cannot boot or cannot prove a boot of, a revision an earlier rollout
 * found not to boot (unless --retry). The same rollout run again after an interruption carries
 * the interrupted one on.
 */
export async function rollout(ctx: Context, options: RolloutOptions): Promise<RolloutResult> {
  const site = await loadSite(ctx.root)
  const inventory = await loadInventory(ctx.root)
  assertValidInventory(site, inventory)
  if (options.nodes !== 'all' && options.nodes.length === 0) throw new UserError('name the nodes to move, or pass --all', 'e.g. "pxeroot rollout lab@3 --all" or "pxeroot rollout --latest node01..node10"')
  const canary = options.canary ?? site.rollout.canary
  const wave = options.wave ?? site.rollout.wave
  const timeout = options.timeout ?? site.rollout.timeout
  const shutdownTimeout = options.shutdownTimeout ?? site.rollout.shutdownTimeout
  if (wave < 1) throw new UserError('--wave: must be at least 1')
  if (canary < 0) throw new UserError('--canary: must be 0 or more')
  const names = options.nodes === 'all' ? 'all' : selectNodes(inventory, options.nodes).map((n) => n.name)
  const target = await resolveTarget(ctx, site, options.target, options.image)
  for (const node of inventory.nodes) {
    const ref = node.image ? parseRevisionRef(node.image) : undefined
    if (ref && !target.currents.has(ref.image)) {
      const current = await currentRevision(ctx.root, site, ref.image)
      target.currents.set(ref.image, current ? formatRevisionRef(current) : undefined)
    }
  }
  const run = async (): Promise<RolloutResult> => {
    const interrupted = await unfinishedRecord(ctx)
    if (interrupted && !options.dryRun) {
      if (interrupted.target !== target.text) {
        throw new UserError(`rollout ${interrupted.id} to ${interrupted.target} was interrupted; carry it on first`, 'pxeroot rollout resume')
      }
      ctx.log(`carrying on rollout ${interrupted.id} to ${interrupted.target}, interrupted before`)
      const {targets} = await checkBmcs(ctx, site, inventory, Object.keys(interrupted.nodes), options.http ?? undiciHttp)
      return carryOn(ctx, site, interrupted, targets, options)
    }
    const plan = planRollout(inventory, names, (image) => target.targetOf(image, names !== 'all'), {canary, wave})
    if (plan.moves.length === 0) return {nothing: plan.already.length > 0 ? `every node asked for is on its target already (${plan.already.join(', ')})` : 'no node to move'}
    const revisions = [...new Set(plan.moves.map((m) => m.to))]
    await checkRevisions(ctx, site, revisions)
    if (!options.retry) {
      const bad = (await readRecords(ctx.root)).filter((r) => r.state === 'failed').flatMap((r) => Object.values(r.nodes).filter((n) => (n.step === 'rolled-back' || n.step === 'stuck') && revisions.includes(n.to)).map((n) => ({record: r, node: n})))
      if (bad.length > 0) {
        const {record, node} = bad.at(-1)!
        throw new UserError(`${node.to} did not come up on ${node.name} in rollout ${record.id} (${node.failure}); not tried again`,
          `fix the image (a new revision, or "pxeroot image rollback ${parseRevisionRef(node.to)!.image}"), or pass --retry`)
      }
    }
    const moving = plan.moves.map((m) => m.name)
    const {targets, power} = await checkBmcs(ctx, site, inventory, moving, options.http ?? undiciHttp)
    if (options.dryRun) return {plan: {...plan, power}}
    const records = await readRecords(ctx.root)
    const started = new Date()
    const record: RolloutRecord = {
      format: 1,
      id: rolloutId(started, (id) => records.some((r) => r.id === id)),
      target: target.text,
      started: started.toISOString(),
      state: 'running',
      pid: process.pid,
      options: {canary, wave, timeout, shutdownTimeout},
      waves: plan.waves,
      nodes: Object.fromEntries(plan.moves.map((m) => [m.name, {...m, step: 'pending' as NodeStep, events: []}])),
      already: plan.already,
    }
    ctx.log(`rollout ${record.id}: ${plan.moves.length} node(s) to ${target.text} in ${plan.waves.length} wave(s)${canary > 0 ? ` (canary ${plan.waves[0].join(', ')})` : ''}`)
    return carryOn(ctx, site, record, targets, options)
  }
  return options.dryRun ? run() : withRolloutLock(ctx, run)
}

/** `rollout resume`: carries the interrupted rollout on from where each node was. */
export async function resumeRollout(ctx: Context, options: Pick<RolloutOptions, 'http' | 'pollMs'> = {}): Promise<RolloutResult> {
  const site = await loadSite(ctx.root)
  const inventory = await loadInventory(ctx.root)
  return withRolloutLock(ctx, async () => {
    const record = await unfinishedRecord(ctx)
    if (!record) return {nothing: 'no rollout was interrupted'}
    ctx.log(`carrying on rollout ${record.id} to ${record.target}`)
    const {targets} = await checkBmcs(ctx, site, inventory, Object.keys(record.nodes), options.http ?? undiciHttp)
    return carryOn(ctx, site, record, targets, options)
  })
}

/** `rollout status`: the running or last rollout (or the one named), as its record says. */
export async function rolloutStatus(ctx: Context, id?: string): Promise<RolloutRecord | undefined> {
  const records = await readRecords(ctx.root)
  if (id) {
    const record = records.find((r) => r.id === id)
    if (!record) throw new UserError(`ID: no rollout ${id}`, records.length > 0 ? `the last is ${records.at(-1)!.id}` : 'no rollout has run yet')
    return withLiveState(record)
  }
  const last = records.at(-1)
  return last ? withLiveState(last) : undefined
}

/** A record still saying "running" whose process is gone was killed: it is interrupted. */
function withLiveState(record: RolloutRecord): RolloutRecord {
  return record.state === 'running' && unfinished(record) ? {...record, state: 'interrupted'} : record
}
