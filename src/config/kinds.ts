/**
 * Value kinds for configuration settings. A kind turns the raw text of a flag, an environment
 * variable or a `.env` line into a typed value, or says in a few words what is allowed.
 */
import { hoursOrDays } from '../util/backoff.ts'

export interface Kind<T> {
  /** What is allowed, as shown in errors and in the configuration reference. */
  readonly allowed: string
  parse (raw: string): { ok: true, value: T } | { ok: false }
  /** Writes a parsed value back as raw text; `String(value)` when absent. */
  format? (value: T): string
}

const ok = <T>(value: T): { ok: true, value: T } => ({ ok: true, value })
const bad = { ok: false } as const

export function text (options: { allowEmpty?: boolean } = {}): Kind<string> {
  return {
    allowed: options.allowEmpty === true ? 'any text' : 'non-empty text',
    parse: raw => (raw.length > 0 || options.allowEmpty === true) ? ok(raw) : bad
  }
}

export function integer (min: number, max: number): Kind<number> {
  return {
    allowed: `a whole number from ${min} to ${max}`,
    parse (raw) {
      if (!/^-?\d+$/.test(raw.trim())) return bad
      const value = Number(raw.trim())
      return Number.isSafeInteger(value) && value >= min && value <= max ? ok(value) : bad
    }
  }
}

/** A decimal number strictly above `above` and at most `max`. */
export function decimal (above: number, max: number): Kind<number> {
  return {
    allowed: `a number above ${above} and at most ${max}`,
    parse (raw) {
      if (!/^\s*\d+(\.\d+)?\s*$/.test(raw)) return bad
      const value = Number(raw)
      return value > above && value <= max ? ok(value) : bad
    }
  }
}

export function boolean (): Kind<boolean> {
  return {
    allowed: 'true or false (also 1/0, yes/no)',
    parse (raw) {
      const value = raw.trim().toLowerCase()
      if (['true', '1', 'yes', 'on'].includes(value)) return ok(true)
      if (['false', '0', 'no', 'off'].includes(value)) return ok(false)
      return bad
    }
  }
}

/** One of a fixed list, compared without case; `aliases` maps other spellings (the original components' WARNING) onto it. */
export function oneOf<const V extends string> (values: readonly V[], aliases: Readonly<Record<string, V>> = {}): Kind<V> {
  return {
    allowed: `one of ${values.join(', ')}`,
    parse (raw) {
      const value = raw.trim().toLowerCase()
      const found = values.find(v => v === value) ?? aliases[value]
      return found === undefined ? bad : ok(found)
    }
  }
}

const hostPattern = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])$/

/** Comma-separated host:port pairs, as Kafka's bootstrap.servers. */
export function hostPortList (): Kind<string[]> {
  return {
    allowed: 'host:port[,host:port...] with ports from 1 to 65535',
    parse (raw) {
      const parts = raw.split(',').map(p => p.trim()).filter(p => p.length > 0)
      if (parts.length === 0) return bad
      for (const part of parts) {
        const colon = part.lastIndexOf(':')
        if (colon <= 0) return bad
        const port = Number(part.slice(colon + 1))
        if (!Number.isInteger(port) || port < 1 || port > 65535 || !/^\d+$/.test(part.slice(colon + 1))) return bad
        if (!hostPattern.test(part.slice(0, colon))) return bad
      }
      return ok(parts)
    },
    format: value => value.join(',')
  }
}

/** A URL with one of the given protocols (each with its colon, as `new URL().protocol` has it). */
export function url (protocols: readonly string[]): Kind<string> {
  return {
    allowed: `a URL starting with ${protocols.map(p => `${p}//`).join(' or ')}`,
    parse (raw) {
      try {
        const parsed = new URL(raw.trim())
        return protocols.includes(parsed.protocol) ? ok(raw.trim()) : bad
      } catch {
        return bad
      }
    }
  }
}

/** Comma-separated URLs, each with one of the given protocols; at least one. */
export function urlList (protocols: readonly string[]): Kind<string[]> {
  const one = url(protocols)
  return {
    allowed: `comma-separated URLs starting with ${protocols.map(p => `${p}//`).join(' or ')}`,
    parse (raw) {
      const parts = raw.split(',').map(p => p.trim()).filter(p => p.length > 0)
      return parts.length > 0 && parts.every(p => one.parse(p).ok) ? ok(parts) : bad
    },
    format: value => value.join(',')
  }
}

/** A Kafka topic name: 1 to 249 of [a-zA-Z0-9._-], not "." or "..". */
export function topicName (): Kind<string> {
  return {
    allowed: '1 to 249 characters of a-z A-Z 0-9 . _ - (a Kafka topic name)',
    parse (raw) {
      const value = raw.trim()
      return /^[a-zA-Z0-9._-]{1,249}$/.test(value) && value !== '.' && value !== '..' ? ok(value) : bad
    }
  }
}

/** A replication factor: `auto` (3, or the number of brokers when fewer) or a number. */
export function replicationFactor (): Kind<number | 'auto'> {
  const count = integer(1, 32)
  return {
    allowed: `auto, or ${count.allowed}`,
    parse: raw => raw.trim().toLowerCase() === 'auto' ? ok('auto' as const) : count.parse(raw)
  }
}

/** JVM options, passed to java as separate words. */
export function words (): Kind<string[]> {
  return {
    allowed: 'space-separated words',
    parse (raw) {
      const parts = raw.split(/\s+/).filter(p => p.length > 0)
      return parts.length > 0 ? ok(parts) : bad
    },
    format: value => value.join(' ')
  }
}

/**
 * Durations, comma-separated, each a number with a unit (`12h`, `1d`; a bare number is days),
 * strictly increasing, in ms; `none` (or empty) is the empty list.
 */
export function durationList (): Kind<number[]> {
  const unit = { h: 3_600_000, d: 86_400_000 } as const
  return {
    allowed: 'increasing durations such as 1d,2d,7d (units h and d; a bare number is days), or none',
    parse (raw) {
      const text = raw.trim().toLowerCase()
      if (text === '' || text === 'none') return ok([])
      const values: number[] = []
      for (const part of text.split(',')) {
        const m = /^(\d+(?:\.\d+)?)(h|d)?$/.exec(part.trim())
        if (m === null) return bad
        const ms = Number(m[1]) * unit[(m[2] ?? 'd') as 'h' | 'd']
        if (!(ms > 0) || (values.length > 0 && ms <= (values.at(-1) as number))) return bad
        values.push(ms)
      }
      return ok(values)
    },
    format: value => value.length === 0 ? 'none' : value.map(hoursOrDays).join(',')
  }
}

/** A decimal number from `min` to `max`, both included. */
export function between (min: number, max: number): Kind<number> {
  return {
    allowed: `a number from ${min} to ${max}`,
    parse (raw) {
      if (!/^\s*\d+(\.\d+)?\s*$/.test(raw)) return bad
      const value = Number(raw)
      return value >= min && value <= max ? ok(value) : bad
    }
  }
}

/** Some of a fixed list, separated by commas or spaces, at least one. */
export function someOf<const V extends string> (values: readonly V[]): Kind<V[]> {
  const known = new Set<string>(values)
  return {
    allowed: `some of ${values.join(', ')} (separated by commas)`,
    parse (raw) {
      const parts = raw.split(/[\s,]+/).filter(p => p.length > 0)
      return parts.length > 0 && parts.every(p => known.has(p)) ? ok([...new Set(parts)] as V[]) : bad
    },
    format: value => value.join(',')
  }
}
