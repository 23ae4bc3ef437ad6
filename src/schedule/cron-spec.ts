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

const SPECIAL_FIELDS: Record<string, string> = {
  '@yearly': '0 0 1 1 *', '@annually': '0 0 1 1 *', '@monthly': '0 0 1 * *', '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *', '@midnight': '0 0 * * *', '@hourly': '0 * * * *',
}

/** The values a valid field's text stands for (names resolved; day of week 7 is 0). */
function fieldValues(field: Field, text: string): Set<number> {
  const out = new Set<number>()
  for (const item of text.split(',')) {
    const [base, step] = item.split('/')
    const bounds = base === '*' ? [field.min, field.max] : base.split('-').map((b) => value(field, b) as number)
    const [lo, hi] = [bounds[0], bounds.at(-1)!]
    for (let v = lo; v <= hi; v += Number(step ?? 1)) out.add(field.name === 'day of week' && v === 7 ? 0 : v)
  }
  return out
}

/**
 * Whether a valid schedule starts a job at a given minute (local time, as cron reads it), or
 * undefined for @reboot, which has no time. Day of month and day of week follow cron: when both
 * are restricted (neither starts with "*"), either one matching is enough.
 */
export function cronMatcher(schedule: string): ((at: Date) => boolean) | undefined {
  const text = normalizeSchedule(schedule)
  if (text === '@reboot') return undefined
  const parts = (SPECIAL_FIELDS[text] ?? text).split(' ')
  const [minute, hour, dom, month, dow] = parts.map((p, i) => fieldValues(FIELDS[i], p))
  const domStar = parts[2].startsWith('*')
  const dowStar = parts[4].startsWith('*')
  return (at) => {
    if (!minute.has(at.getMinutes()) || !hour.has(at.getHours()) || !month.has(at.getMonth() + 1)) return false
    const d = dom.has(at.getDate())
    const w = dow.has(at.getDay())
    return domStar || dowStar ? d && w : d || w
  }
}

/** The first minute from `from` on, within `days`, at which both schedules start a job. */
export function firstCommonMinute(a: string, b: string, from: Date, days = 366): Date | undefined {
  const [ma, mb] = [cronMatcher(a), cronMatcher(b)]
  if (!ma || !mb) return undefined
  const at = new Date(from)
  at.setSeconds(0, 0)
  for (let i = 0; i < days * 24 * 60; i++) {
    if (ma(at) && mb(at)) return new Date(at)
    at.setMinutes(at.getMinutes() + 1)
  }
  return undefined
}
