import {UserError} from '../errors.js'

/** The five time fields of a crontab line, with the bounds and names Debian's cron accepts. */
const FIELDS = [
  {name: 'minute', min: 0, max: 59},
  {name: 'hour', min: 0, max: 23},
  {name: 'day of month', min: 1, max: 31},
  {name: 'month', min: 1, max: 12, names: ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'], base: 1},
  {name: 'day of week', min: 0, max: 7, names: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'], base: 0},
] as const

export const CRON_SPECIALS = ['@reboot', '@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly'] as const

const HINT = 'write five fields "MINUTE HOUR DAY-OF-MONTH MONTH DAY-OF-WEEK" such as "0 3 * * 0" (Sundays at 03:00), or @daily/@weekly'

type Field = (typeof FIELDS)[number]

function value(field: Field, text: string): number | string {
  if (/^[0-9]+$/.test(text)) {
    const n = Number(text)
    return n < field.min || n > field.max ? `${field.name} "${text}" is out of range ${field.min}-${field.max}` : n
  }
  const names: readonly string[] | undefined = 'names' in field ? field.names : undefined
  const i = names?.indexOf(text.toLowerCase()) ?? -1
  if (names && i >= 0) return i + ('base' in field ? field.base : 0)
  return names
    ? `${field.name} "${text}" is neither a number ${field.min}-${field.max} nor a three-letter name (${names.slice(0, 3).join(', ')}, ...)`
    : `${field.name} "${text}" is not a number ${field.min}-${field.max}`
}

/** Problems of one field's text ("*", "1-5", "*\/15", "mon,wed,fri"); empty when cron accepts it. */
function fieldProblems(field: Field, text: string): string[] {
  const problems: string[] = []
  for (const item of text.split(',')) {
    const m = /^([^/]+)(?:\/([0-9]+))?$/.exec(item)
    if (!m) {
      problems.push(`${field.name} "${item || text}" is not a value, a range A-B, "*" or a step like */15`)
      continue
    }
    const [, base, step] = m
    let span = field.max - field.min
    if (base !== '*') {
      const bounds = base.split('-')
      if (bounds.length > 2 || bounds.some((b) => b === '')) {
        problems.push(`${field.name} "${base}" is not a value or a range A-B`)
        continue
      }
      const nums = bounds.map((b) => value(field, b))
      const bad = nums.filter((n): n is string => typeof n === 'string')
      if (bad.length > 0) {
        problems.push(...bad)
        continue
      }
      if (nums.length === 2) {
        if ((nums[0] as number) > (nums[1] as number)) problems.push(`${field.name} range "${base}" starts after it ends`)
        span = (nums[1] as number) - (nums[0] as number)
      } else if (step !== undefined) {
        problems.push(`${field.name} "${item}": a step needs "*" or a range before it, e.g. */${step}`)
      }
    }
    if (step !== undefined) {
      const s = Number(step)
      if (s < 1) problems.push(`${field.name} step "/${step}" must be at least 1`)
      else if (s > Math.max(span, 1)) problems.push(`${field.name} step "/${step}" is larger than the range it steps through`)
    }
  }
  return problems
}

/** Every problem of a schedule, each naming its field; empty when the schedule is valid. Pure. */
export function cronScheduleProblems(schedule: string): string[] {
  const text = schedule.trim()
  if (text.startsWith('@')) {
    return (CRON_SPECIALS as readonly string[]).includes(text.toLowerCase()) ? [] : [`"${text}" is not one of ${CRON_SPECIALS.join(', ')}`]
  }
  const parts = text.split(/\s+/).filter(Boolean)
  if (parts.length !== 5) return [`"${schedule}" has ${parts.length} field${parts.length === 1 ? '' : 's'}, cron needs 5`]
  return parts.flatMap((part, i) => fieldProblems(FIELDS[i], part))
}

/** The schedule in the form written to the cron file (single spaces), or a UserError naming each problem. */
export function normalizeSchedule(schedule: string): string {
  const problems = cronScheduleProblems(schedule)
  if (problems.length > 0) throw new UserError(`schedule: ${problems.join('; ')}`, HINT)
  const text = schedule.trim()
  return text.startsWith('@') ? text.toLowerCase() : text.split(/\s+/).join(' ')
}
