import {type Preflight} from './preflight.js'
import {type ScheduleState} from './schedule.js'

/** The schedule for a terminal. Pure. */
export function formatSchedule(state: ScheduleState & {checked?: Preflight}): string {
  const head = {created: 'scheduled', updated: 'schedule updated', unchanged: 'schedule unchanged', removed: 'schedule updated', none: ''}[state.change]
  const lines: string[] = []
  if (head) lines.push(`${head}: ${state.file}`)
  if (state.jobs.length === 0) lines.push('nothing scheduled')
  for (const job of state.jobs) lines.push(`${job.schedule.padEnd(14)} pxeroot ${job.args.join(' ')}`)
  if (state.jobs.length > 0) lines.push(`output: ${state.logFile}`)
  if (state.checked) {
    lines.push('checked now:', ...state.checked.now.map((c) => `  ${c}`))
    lines.push('checked only when it runs:', ...state.checked.atRunTime.map((c) => `  ${c}`))
  }
  return lines.join('\n') + '\n'
}
