/**
 * A duration as admins write them: 600 (seconds), 90s, 10m, 1h, or combined (1h30m); in seconds.
 * Undefined when the text is none of these. Pure.
 */
export function parseDuration(text: string | number): number | undefined {
  if (typeof text === 'number') return Number.isFinite(text) && text >= 0 ? text : undefined
  const t = text.trim()
  if (/^\d+$/.test(t)) return Number(t)
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(t)
  if (!m || t === '' || (!m[1] && !m[2] && !m[3])) return undefined
  return Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0)
}

/** 600 → "10m", 90 → "1m30s"; pure. */
export function formatDuration(seconds: number): string {
  const s = Math.round(seconds)
  if (s < 60) return `${s}s`
  const parts = [[Math.floor(s / 3600), 'h'], [Math.floor((s % 3600) / 60), 'm'], [s % 60, 's']] as const
  return parts.filter(([n]) => n > 0).map(([n, u]) => `${n}${u}`).join('')
}
