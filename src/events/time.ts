const isoPattern = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?$/

/**
 * Parses an event timestamp: ISO 8601 with or without a zone (the seeds send both
 * "2024-01-15T10:30:00Z" and "2024-01-15T10:30:00.123456"); no zone means UTC. Returns epoch
 * milliseconds, or undefined when the text is not such a timestamp or names no real date.
 */
export function parseEventTime (text: string): number | undefined {
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

let lastMs = NaN
let lastIso = ''

/** `2024-01-15T10:30:45.123Z`: seed 003's format. */
export function isoUtc (ms: number): string {
  // Events of one batch share their millisecond; formatting it once is a tenth of a producer's time.
  if (ms !== lastMs) {
    lastIso = new Date(ms).toISOString()
    lastMs = ms
  }
  return lastIso
}

/** `2024-01-15T10:30:00.123456`: seed 002's format (Python's isoformat(), no zone, UTC). */
export function isoNaiveMicros (ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 23)}000`
}
