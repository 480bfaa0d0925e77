import type { Logger } from '../../logging/index.ts'
import type { FraudBatchResult } from './batch.ts'

/** The fraud pipeline's counts since it started. */
export class FraudStats {
  readonly startedAt = Date.now()
  /** Records taken from Kafka: the "messages" of the fraud streaming consumer's lines. */
  records = 0
  scored = 0
  duplicates = 0
  deadLettered = 0
  fraud = 0
  batches = 0

  add (counts: FraudBatchResult['counts']): void {
    this.records += counts.records
    this.scored += counts.scored
    this.duplicates += counts.duplicates
    this.deadLettered += counts.deadLettered
    this.fraud += counts.fraud
    this.batches++
  }

  toJSON (): Record<string, number> {
    return {
      runtime_s: Math.round((Date.now() - this.startedAt) / 100) / 10,
      records: this.records,
      scored: this.scored,
      duplicates_skipped: this.duplicates,
      dead_lettered: this.deadLettered,
      fraud: this.fraud,
      batches: this.batches
    }
  }

  /** A FRAUD STATISTICS block in the style of the PROCESSING STATISTICS one, one line per entry. */
  block (): string[] {
    const rule = '='.repeat(60)
    const seconds = (Date.now() - this.startedAt) / 1000
    return [
      rule,
      'FRAUD STATISTICS',
      rule,
      `Runtime: ${seconds.toFixed(1)} seconds`,
      `Transactions Received: ${this.records}`,
      `Transactions Scored: ${this.scored}`,
      `Flagged as Fraud: ${this.fraud}`,
      `Duplicates Skipped: ${this.duplicates}`,
      `Errors: ${this.deadLettered}`,
      rule
    ]
  }
}

export interface FraudConsoleOptions {
  /** Bootstrap servers, as configured. */
  readonly server: string
  readonly group: string
  readonly topic: string
  /** A progress line each time this many more messages are done (the original consumer's 100). */
  readonly every?: number
}

/**
 * The fraud streaming consumer's console lines: `Consumer started - Server: ..., Group: ...,
 * Topic: ...`, `Processed N messages` each time another 100 are done (one line per batch at most,
 * with the latest hundred, so a fast pipeline does not flood the log), and `Consumer stopped.
 * Total messages: N`.
 */
export class FraudConsole {
  readonly stats = new FraudStats()
  readonly #log: Logger
  readonly #options: FraudConsoleOptions
  readonly #every: number
  #reported = 0

  constructor (log: Logger, options: FraudConsoleOptions) {
    this.#log = log
    this.#options = options
    this.#every = options.every ?? 100
  }

  started (): void {
    const o = this.#options
    this.#log.info(`Consumer started - Server: ${o.server}, Group: ${o.group}, Topic: ${o.topic}`)
  }

  /** Counts a handled batch, and prints the progress line when another hundred are done. */
  batch (result: FraudBatchResult): void {
    this.stats.add(result.counts)
    const reached = Math.floor(this.stats.records / this.#every) * this.#every
    if (reached > this.#reported) {
      this.#reported = reached
      this.#log.info(`Processed ${reached} messages`)
    }
    for (const p of result.poison) {
      this.#log.warn({ code: p.code, topic: p.record.topic, partition: p.record.partition, offset: Number(p.record.offset) }, `Invalid transaction sent to the error topic: ${p.message}`)
    }
  }

  stopped (): void {
    this.#log.info(`Consumer stopped. Total messages: ${this.stats.records}`)
  }
}
