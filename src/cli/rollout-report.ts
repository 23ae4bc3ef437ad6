import {formatReport, type UpdateReport} from '../images/update.js'
import {type RolloutResult} from '../services/rollout.js'
import {waveName} from '../rollout/plan.js'
import {rolloutReport} from '../rollout/report.js'
import {table} from './table.js'

/** What a rollout prints for a person: the plan of a dry run, nothing to do, or the one-screen report. */
export function rolloutText(result: RolloutResult): string {
  if (result.nothing) return `Nothing to roll out: ${result.nothing}.\n`
  if (result.plan) {
    const {plan} = result
    const rows = plan.waves.flatMap((wave, i) => wave.map((name) => {
      const move = plan.moves.find((m) => m.name === name)!
      return [waveName(i, plan.canary), name, move.from, move.to, plan.power[name] ?? '?']
    }))
    return [
      `Would move ${plan.moves.length} node(s) in ${plan.waves.length} wave(s); each is powered off (its OS asked first), rebased, powered on and must come up on its new revision.`,
      table(['WAVE', 'NODE', 'FROM', 'TO', 'POWER NOW'], rows).trimEnd(),
      ...(plan.already.length > 0 ? [`already there: ${plan.already.join(', ')}`] : []),
      '',
    ].join('\n')
  }
  return result.record ? rolloutReport(result.record) : ''
}

/** Runs a rollout command's service and prints what it did, also when it failed (the record rides on the error). */
export async function printedRollout(json: boolean, run: () => Promise<RolloutResult>): Promise<RolloutResult> {
  try {
    const result = await run()
    if (!json) process.stdout.write(rolloutText(result))
    return result
  } catch (error) {
    const record = (error as {result?: RolloutResult['record']}).result
    if (record && !json) process.stdout.write(rolloutText({record}))
    throw error
  }
}

/** image update --then-rollout: the update's lines, then the rollout's report, also when one failed. */
export async function printedUpdateRollout<T extends {images: UpdateReport[], rollout: RolloutResult}>(json: boolean, run: () => Promise<T>): Promise<T> {
  const print = (r: Partial<T> | undefined) => {
    if (json || !r) return
    for (const image of r.images ?? []) process.stdout.write(`${formatReport(image)}\n`)
    if (r.rollout) process.stdout.write(rolloutText(r.rollout))
  }
  try {
    const result = await run()
    print(result)
    return result
  } catch (error) {
    const result = (error as {result?: Partial<T> & RolloutResult['record']}).result
    // A failed rollout carries its record; a partial update carries the images and the rollout.
    if (result && 'images' in result) print(result)
    else if (result && !json) process.stdout.write(rolloutText({record: result as RolloutResult['record']}))
    throw error
  }
}
