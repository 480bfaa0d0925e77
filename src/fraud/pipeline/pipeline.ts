import type { Logger } from '../../logging/index.ts'
import { scoringUnavailable } from '../../processor/index.ts'
import type { FraudStore } from '../../sql/index.ts'
import {
  MapTable, offsetsCover, partitionOfOffsets, PartitionedState, type BatchIO, type BatchOutcome, type Dependency, type Pipeline,
  type PipelineDependency, type PreparedBatch, type TakenRecord, type WrittenContext
} from '../../stream/index.ts'
import { accountIds, decodeTransactions, fraudBatch, type FraudBatchContext, type FraudBatchResult } from './batch.ts'
import type { FraudConsole } from './console.ts'
import type { FraudScoring } from './scoring.ts'
import type { FraudSettings } from './settings.ts'
import { decodeAccount, encodeAccount, type AccountRecord } from './state.ts'

/** The store's name in its changelog topic: `<group>-accounts-changelog`. */
export const ACCOUNTS_STORE = 'accounts'

export interface FraudPipelineOptions {
  readonly settings: FraudSettings
  /** Where `transactions` and `predictions` go. */
  readonly store: FraudStore
  readonly scoring: FraudScoring
  /** Brings the tables up to date (or checks they are) before the first batch. */
  readonly migrate: () => Promise<unknown>
  /** The fraud streaming consumer's console lines. */
  readonly console: FraudConsole
  readonly log: Logger
}

/** What a written fraud batch tells the runtime, and the batch step's own result. */
export interface FraudOutcome extends BatchOutcome {
  readonly result: FraudBatchResult
}

/**
 * The fraud pipeline, a handler of the stream runtime (the fraud streaming consumer's work): it
 * reads `transactions`, validates each (the invalid go to `transactions-failed` with a coded
 * reason), applies it to its account's state exactly once, scores it with the account's history
 * (in process, or through the scoring API's batch route), and writes `transactions` and
 * `predictions` in one SQL transaction and the fraud predictions and alerts to Kafka. Its state is
 * the accounts, kept per partition in process and backed by `<group>-accounts-changelog`.
 */
export class FraudPipeline implements Pipeline<FraudOutcome> {
  readonly name = 'fraud'
  readonly groupId: string
  readonly topics: readonly string[]
  readonly outputTopics: readonly string[]
  readonly dependencies: Readonly<Record<string, PipelineDependency | undefined>>
  readonly durableOnWrite = false
  readonly state: PartitionedState<AccountRecord>
  readonly #o: FraudPipelineOptions
  /** Accounts a prepared batch changed whose write has not stored them yet: the next batch starts from these. */
  readonly #overlay = new Map<string, AccountRecord>()
  readonly writesInFlight = 2
  /** The last write started: the next stores its accounts only once this one has succeeded. */
  #lastWrite: Promise<unknown> = Promise.resolve()
  /** The last batch's Kafka records, sent (or failed): the next batch's go after them. */
  #lastSend: Promise<unknown> = Promise.resolve()

  constructor (options: FraudPipelineOptions) {
    this.#o = options
    const s = options.settings
    this.groupId = s.group
    this.topics = [s.sourceTopic]
    this.outputTopics = [s.predictionsTopic, s.alertsTopic]
    const scoring = options.scoring
    this.dependencies = {
      database: { name: options.store.name, ping: () => options.store.ping() },
      scoring_api: scoring.kind === 'http' && s.scoringApiUrl !== undefined ? { name: scoring.name, ping: () => pingApi(s.scoringApiUrl as string) } : undefined
    }
    this.state = new PartitionedState<AccountRecord>({
      name: ACCOUNTS_STORE,
      codec: { encode: encodeAccount, decode: decodeAccount, supersedes: (a, b) => offsetsCover(a.offsets, b.offsets) },
      table: () => new MapTable<AccountRecord>(),
      log: options.log
    })
  }

  deadLetterTopic (): string {
    return this.#o.settings.deadLetterTopic
  }

  flush (): Promise<void> {
    return this.state.flush()
  }

  async start (io: BatchIO): Promise<void> {
    const database = io.dependencies.database as Dependency
    await database.run(() => this.#o.migrate(), io.signal)
    await database.run(() => this.#o.store.ping(), io.signal)
    const api = this.dependencies.scoring_api
    if (api !== undefined) await (io.dependencies.scoring_api as Dependency).run(() => api.ping(), io.signal)
    this.#o.console.started()
  }

  async prepare (records: readonly TakenRecord[], io: BatchIO): Promise<PreparedBatch<FraudOutcome>> {
    const s = this.#o.settings
    const decoded = decodeTransactions(records)
    const accounts = new Map<string, AccountRecord>()
    for (const id of accountIds(decoded)) {
      const account = this.#overlay.get(id) ?? this.state.get(id)
      if (account !== undefined) accounts.set(id, account)
    }
    const context: FraudBatchContext = {
      scorer: this.#o.scoring,
      ...(io.dependencies.scoring_api === undefined ? {} : { scoring: io.dependencies.scoring_api }),
      topics: { predictions: s.predictionsTopic, alerts: s.alertsTopic, deadLetter: () => s.deadLetterTopic },
      signal: io.signal
    }
    const started = performance.now()
    const result = await fraudBatch(decoded, accounts, context)
    const scoreMs = performance.now() - started
    for (const [id, account] of result.accounts) this.#overlay.set(id, account)
    return {
      write: () => {
        const earlier = this.#lastWrite
        const done = this.#write(records, result, scoreMs, earlier, io)
        this.#lastWrite = done
        return done
      }
    }
  }

  async #write (records: readonly TakenRecord[], result: FraudBatchResult, scoreMs: number, earlier: Promise<unknown>, io: BatchIO): Promise<FraudOutcome> {
    // The SQL rows and the Kafka records are independent and both idempotent: written at once.
    // The records go after the earlier batch's records, so each account's stay in order.
    let databaseMs = 0
    const t = performance.now()
    const sendAfter = this.#lastSend
    const sent = result.messages.length === 0 ? sendAfter : sendAfter.then(() => io.dependencies.kafka.run(() => io.output.send(result.messages), io.signal))
    this.#lastSend = sent.catch(() => undefined)
    await Promise.all([
      result.transactionRows.length === 0
        ? undefined
        : (io.dependencies.database as Dependency).run(() => this.#o.store.write(result.transactionRows, result.predictionRows), io.signal).finally(() => { databaseMs = performance.now() - t }),
      sent
    ])
    // The accounts last: an account that has applied a transaction is one whose rows and records
    // are written, and so are those of every earlier batch (this batch's accounts were computed
    // from theirs): an earlier write that failed fails this one too.
    await earlier
    for (const [id, account] of result.accounts) {
      const partition = this.state.partitionOf(id) ?? partitionOfOffsets(account.offsets)
      if (partition !== undefined) this.state.set(id, account, partition)
      if (this.#overlay.get(id) === account) this.#overlay.delete(id)
    }
    return { records: records.length, processed: result.counts.scored, poison: result.poison, timings: { scoreMs, databaseMs }, result }
  }

  written (_records: readonly TakenRecord[], outcome: FraudOutcome, w: WrittenContext): void {
    const c = outcome.result.counts
    const label = { pipeline: this.name }
    w.stats.predictionsSaved += c.scored
    w.stats.rowsInserted += c.scored
    w.stats.alerts += c.fraud
    w.stats.duplicates += c.duplicates
    if (c.duplicates > 0) w.metrics.events.inc({ ...label, outcome: 'duplicate' }, c.duplicates)
    w.metrics.predictions.inc(label, c.scored)
    if (c.fraud > 0) w.metrics.alerts.inc({ ...label, kind: 'fraud' }, c.fraud)
    this.#o.console.batch(outcome.result)
  }

  /** Transactions scored fraud since this processor started. */
  highRisk (): number {
    return this.#o.console.stats.fraud
  }

  /** The fraud streaming consumer's last line. */
  stopped (): void {
    this.#o.console.stopped()
  }
}

/** The scoring API answers its health route. */
async function pingApi (base: string): Promise<void> {
  try {
    const response = await fetch(new URL('/health', base), { signal: AbortSignal.timeout(5000) })
    await response.body?.cancel()
    if (response.status >= 500) throw new Error(`GET /health answered ${response.status}`)
  } catch (error) {
    throw scoringUnavailable(base, (error as Error).message)
  }
}
