const isoPattern = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?$/

const DIGIT_0 = 48

/** Two digits at `at`, or -1. */
function two (text: string, at: number): number {
  const a = text.charCodeAt(at) - DIGIT_0
  const b = text.charCodeAt(at + 1) - DIGIT_0
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1
}

/**
 * The common case without a regular expression: `2024-01-15T10:30:45.123Z` exactly (what
 * churnflow and most JSON encoders write). Anything else, or anything odd, is left to the full parser.
 */
function canonicalUtc (text: string): number | undefined {
  if (text.length !== 24 || text.charCodeAt(23) !== 90 /* Z */ || text.charCodeAt(4) !== 45 || text.charCodeAt(7) !== 45 ||
    text.charCodeAt(10) !== 84 || text.charCodeAt(13) !== 58 || text.charCodeAt(16) !== 58 || text.charCodeAt(19) !== 46) return undefined
  const c1 = two(text, 0)
  const c2 = two(text, 2)
  const mo = two(text, 5)
  const d = two(text, 8)
  const h = two(text, 11)
  const mi = two(text, 14)
  const s = two(text, 17)
  const ms1 = two(text, 20)
  const ms2 = text.charCodeAt(22) - DIGIT_0
  if (c1 < 0 || c2 < 0 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 59 || ms1 < 0 || ms2 < 0 || ms2 > 9) return undefined
  const year = c1 * 100 + c2
  const time = Date.UTC(year, mo - 1, d, h, mi, s, ms1 * 10 + ms2)
  // A day past the month's end (2024-02-30) rolls over; the full parser says why it is invalid.
  if (d > 28 && new Date(time).getUTCDate() !== d) return undefined
  return time
}

/**
 * Parses an event timestamp: ISO 8601 with or without a zone (the seeds send both
 * "2024-01-15T10:30:00Z" and "2024-01-15T10:30:00.123456"); no zone means UTC. Returns epoch
 * milliseconds, or undefined when the text is not such a timestamp or names no real date.
 */
export function parseEventTime (text: string): number | undefined {
  const fast = canonicalUtc(text)
  if (fast !== undefined) return fast
  const m = isoPattern.exec(text)
  if (m === null) return undefined
  const [, y, mo, d, h, mi, s, frac, zone] = m
  const ms = frac === undefined ? 0 : Number(frac.slice(0, 3).padEnd(3, '0'))
  let time = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s ?? 0), ms)
  const check = new Date(time)
  if (check.getUTCMonth() !== Number(mo) - 1 || check.getUTCDate() !== Number(d) || Number(h) > 23 || Number(mi) > 59 || Number(s ?? 0) > 59) {
    return undefined
  }
  if (zone !== undefined && zone !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1
    const digits = zone.slice(1).replace(':', '')
    time -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000
  }
  return time
}

const DAY_MS = 86_400_000
/** 10000-01-01T00:00:00Z: from here on toISOString writes a six-digit year with a sign. */
const YEAR_10000 = 253_402_300_800_000
const pad2 = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0'))
const pad3 = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'))
// The day last formatted: its first millisecond and `2024-01-15`.
let dayStart = NaN
let dayPrefix = ''

/**
 * `2024-01-15<separator>10:30:45.123<zone>` in UTC, for a whole number of ms in years 1970 to
 * 9999; undefined otherwise. toISOString took about a microsecond, and this runs for every
 * prediction and every SQL row: the day's part is kept and the time of day put together from tables.
 */
export function utcText (ms: number, separator: string, zone: string): string | undefined {
  if (!(ms >= 0 && ms < YEAR_10000) || !Number.isInteger(ms)) return undefined
  let rest = ms - dayStart
  if (!(rest >= 0 && rest < DAY_MS)) {
    rest = ms % DAY_MS
    dayStart = ms - rest
    dayPrefix = new Date(dayStart).toISOString().slice(0, 10)
  }
  const millis = rest % 1000
  const seconds = (rest - millis) / 1000
  const s = seconds % 60
  const minutes = (seconds - s) / 60
  const m = minutes % 60
  const h = (minutes - m) / 60
  return `${dayPrefix}${separator}${pad2[h] as string}:${pad2[m] as string}:${pad2[s] as string}.${pad3[millis] as string}${zone}`
}

/**
 * `2024-01-15T10:30:45.123Z`: the e-commerce event producer's format, exactly what `Date.prototype.toISOString` writes
 * (outside years 1970 to 9999, and for a time that is not a number, which throws, it is toISOString).
 */
export function isoUtc (ms: number): string {
  return utcText(ms, 'T', 'Z') ?? new Date(ms).toISOString()
}

/** `2024-01-15T10:30:00.123456`: the random event producer's format (Python's isoformat(), no zone, UTC). */
export function isoNaiveMicros (ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 23)}000`
}
