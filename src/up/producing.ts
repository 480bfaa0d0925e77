import type { Config } from '../config/index.ts'
import { createProducer } from '../kafka/client/index.ts'
import type { Logger } from '../logging/index.ts'
import { KafkaSink, Paces, ProducerStats, runProducer, type DeliveryReport, type RecordSource } from '../producer/index.ts'

export interface PacedProducerOptions {
  readonly config: Config
  readonly source: RecordSource
  /** Records per second. */
  readonly rate: number
  /** The producer's client id suffix. */
  readonly suffix: string
  readonly log: Logger
  /** Registers the producer's stop on `up`'s stack. */
  readonly defer: (what: string, stop: () => Promise<unknown>) => void
  /** The part's name in the stop step's warning. */
  readonly what: string
}

/**
 * One of `up`'s producers: `source` to Kafka at `rate` records per second until `up` stops it,
 * counting what the brokers acknowledged. Resolves at once to the running production and its counts.
 */
export function startPacedProducer (o: PacedProducerOptions): { producing: Promise<void>, stats: ProducerStats } {
  const stats = new ProducerStats()
  const sink = new KafkaSink(createProducer(o.config, { suffix: o.suffix, compression: o.config.compression }), {
    lingerMs: o.config.lingerMs,
    onDelivery: (report: DeliveryReport) => {
      if (report.error === undefined) stats.sent += report.records.length
      else {
        stats.failed += report.records.length
        o.log.error(`failed to send ${report.records.length} records: ${report.error.message}`)
      }
    }
  })
  const abort = new AbortController()
  const producing = (async () => {
    try {
      await runProducer({ source: o.source, sink, pace: { kind: Paces.RATE, perSecond: o.rate }, stats, batchSize: 500, signal: abort.signal })
    } finally {
      await sink.close()
    }
  })()
  // Awaited later; a failure must not count as unhandled before then.
  producing.catch(() => undefined)
  o.defer(o.what, async () => { abort.abort(); await producing })
  return { producing, stats }
}
