/** One sample of a Prometheus text exposition: its name, labels and value. */
export interface MetricSample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

const line = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/
const label = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g

/** Parses Prometheus text (format 0.0.4): every sample line, comments skipped. */
export function parsePrometheus (text: string): MetricSample[] {
  const samples: MetricSample[] = []
  for (const raw of text.split('\n')) {
    if (raw.startsWith('#') || raw.trim() === '') continue
    const m = line.exec(raw)
    if (m === null) continue
    const labels: Record<string, string> = {}
    for (const l of (m[2] ?? '').matchAll(label)) labels[l[1] as string] = (l[2] as string).replace(/\\(.)/g, (_, c: string) => c === 'n' ? '\n' : c)
    samples.push({ name: m[1] as string, labels, value: Number(m[3]) })
  }
  return samples
}

/** A latency histogram's summary: count and the 50th and 95th percentiles from its buckets, seconds. */
export interface LatencySummary { readonly count: number, readonly p50: number | null, readonly p95: number | null, readonly mean: number | null }

/**
 * Summarises the histogram whose name ends with `suffix` (so a renamed prefix still matches):
 * percentiles are the upper bound of the first bucket that holds them.
 */
export function histogram (samples: readonly MetricSample[], suffix: string): LatencySummary {
  const buckets = samples.filter(s => s.name.endsWith(`${suffix}_bucket`) && s.labels.le !== undefined)
    .map(s => ({ le: s.labels.le === '+Inf' ? Infinity : Number(s.labels.le), n: s.value }))
    .sort((a, b) => a.le - b.le)
  const count = samples.find(s => s.name.endsWith(`${suffix}_count`))?.value ?? 0
  const sum = samples.find(s => s.name.endsWith(`${suffix}_sum`))?.value ?? 0
  const at = (q: number): number | null => {
    if (count === 0) return null
    const b = buckets.find(x => x.n >= q * count)
    return b === undefined || !Number.isFinite(b.le) ? null : b.le
  }
  return { count, p50: at(0.5), p95: at(0.95), mean: count === 0 ? null : sum / count }
}

/** What one processor's ops endpoints said. */
export interface ProcessorReport {
  readonly url: string
  readonly reachable: boolean
  readonly error?: string
  readonly status?: string
  readonly dependencies: { name: string, state: string, error?: string }[]
  readonly stats: Readonly<Record<string, number>>
  readonly lag: { topic: string, partition: number, lag: number }[]
  readonly scoring: LatencySummary
  readonly sink: LatencySummary
  readonly batch: LatencySummary
}

async function fetchText (url: string, timeoutMs: number, init: RequestInit = {}): Promise<{ status: number, text: string }> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) })
  return { status: response.status, text: await response.text() }
}

const noLatency: LatencySummary = { count: 0, p50: null, p95: null, mean: null }

/** Reads one processor's /health, /stats and /metrics; an unreachable one is reported, not thrown. */
export async function readProcessor (base: string, timeoutMs = 2000): Promise<ProcessorReport> {
  const url = base.replace(/\/+$/, '')
  try {
    const [health, stats, metrics] = await Promise.all([
      fetchText(`${url}/health`, timeoutMs),
      fetchText(`${url}/stats`, timeoutMs),
      fetchText(`${url}/metrics`, timeoutMs)
    ])
    const h = JSON.parse(health.text) as { status?: string, dependencies?: Record<string, { name: string, state: string, error?: string }> }
    const samples = parsePrometheus(metrics.text)
    const lag = samples.filter(s => s.name.endsWith('_consumer_lag') && s.labels.topic !== undefined)
      .map(s => ({ topic: s.labels.topic as string, partition: Number(s.labels.partition), lag: s.value }))
      .sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition)
    const statValues: Record<string, number> = {}
    for (const [k, v] of Object.entries(JSON.parse(stats.text) as Record<string, unknown>)) if (typeof v === 'number') statValues[k] = v
    return {
      url,
      reachable: true,
      ...(h.status === undefined ? {} : { status: h.status }),
      dependencies: Object.entries(h.dependencies ?? {}).map(([key, d]) => ({ ...d, name: `${key}: ${d.name}` })),
      stats: statValues,
      lag,
      scoring: histogram(samples, '_scoring_seconds'),
      sink: histogram(samples, '_database_write_seconds'),
      batch: histogram(samples, '_batch_duration_seconds')
    }
  } catch (error) {
    return { url, reachable: false, error: (error as Error).message, dependencies: [], stats: {}, lag: [], scoring: noLatency, sink: noLatency, batch: noLatency }
  }
}
