import type { Config } from '../config/index.ts'
import { Streams } from '../events/index.ts'
import { openFraudPipeline, type FraudStats } from '../fraud/index.ts'
import type { Logger } from '../logging/index.ts'
import { simulatorSource, type ProducerStats } from '../producer/index.ts'
import { transactionDefaults, TransactionStream } from '../simulator/index.ts'
import { StreamRuntime, type StreamMetrics } from '../stream/index.ts'
import { Rng } from '../util/rng.ts'
import { startPacedProducer } from './producing.ts'

export interface FraudPartOptions {
  /** The configuration the parts run with (the local broker's address when up runs one). */
  readonly config: Config
  readonly log: Logger
  /** Shared with the churn processor, so the ops endpoints' /metrics shows both pipelines. */
  readonly metrics: StreamMetrics
  /** Seed of the simulated accounts: the same seed gives the same accounts, so their state carries over between runs. */
  readonly seed: number
  /** Transactions per second; 0 runs no producer of transactions. */
  readonly rate: number
  /** Registers a stop on up's stack: everything stops in the reverse order of starting. */
  readonly defer: (what: string, stop: () => Promise<unknown>) => void
}

/** The running fraud part of `up`. */
export interface FraudPart {
  /** The pipeline's runtime: its dependencies' health and its lag, for up's ops endpoints. */
  readonly runtime: Pick<StreamRuntime, 'health' | 'lag'>
  /** The pipeline's counts since this up started. */
  readonly stats: FraudStats
  /** The transaction producer's counts; undefined at a rate of 0. */
  readonly producerStats: ProducerStats | undefined
  /** Settles when the pipeline ends (it runs until stopped). */
  readonly processing: Promise<void>
  /** Rejects when the producer fails. */
  readonly producing: Promise<void>
  /** The start block's line. */
  readonly line: string
}

/**
 * `up`'s fraud part: the fraud pipeline (`process --streams transactions`) on its own stream
 * runtime, writing `transactions` and `predictions` to the same database as the churn pipeline,
 * and a producer of simulated transactions, with the simulator's fraud, live at `rate` per second.
 * The tables must be migrated before it starts (up does it once, before any part writes).
 */
export function startFraud (o: FraudPartOptions): FraudPart {
  const { config } = o
  const { pipeline, store, settings, scoring, console: fraudConsole } = openFraudPipeline(config, o.log, { migrate: false })
  o.defer('the fraud tables\' database', () => store.close())
  const runtime = new StreamRuntime({ pipeline, config, log: o.log, batchSize: settings.batchSize, retry: settings.retry, metrics: o.metrics })
  const processing = runtime.run()
  processing.catch(() => undefined)
  o.defer('the fraud pipeline', async () => { runtime.stop(); await processing; pipeline.stopped() })

  const tables = `${store.name}, tables transactions and predictions; topics ${settings.predictionsTopic}, ${settings.alertsTopic}; scored by ${scoring.name}`
  if (o.rate <= 0) return { runtime, stats: fraudConsole.stats, producerStats: undefined, processing, producing: Promise.resolve(), line: `${settings.sourceTopic} (no producer: --tx-rate 0) -> ${tables}` }
  const stream = new TransactionStream(new Rng(o.seed), { ...transactionDefaults, start: Date.now(), end: Infinity, live: true })
  const source = simulatorSource({ next: now => stream.next(now) }, { [Streams.USER_EVENTS]: config.userEventsTopic, [Streams.CUSTOMER_EVENTS]: config.customerEventsTopic, [Streams.TRANSACTIONS]: settings.sourceTopic }, { live: true })
  const { producing, stats } = startPacedProducer({ config, source, rate: o.rate, suffix: 'up-transactions', log: o.log, defer: o.defer, what: 'the transaction producer' })
  const line = `${o.rate} transactions/s of ${transactionDefaults.accounts.toLocaleString('en-US')} simulated accounts (fraud rate ${transactionDefaults.fraudRate * 100}%) -> ${tables}`
  return { runtime, stats: fraudConsole.stats, producerStats: stats, processing, producing, line }
}
