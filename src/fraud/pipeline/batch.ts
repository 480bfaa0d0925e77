import { isoUtc } from '../../events/index.ts'
import { PoisonCodes, type Poison, type SourceRecord } from '../../processor/index.ts'
import { deadLetterMessage, partitionKey, type Dependency, type OutMessage } from '../../stream/index.ts'
import { applyTransaction, FRAUD_FEATURES, fraudFeatures } from '../account.ts'
import { featureRecord, type FraudScore } from '../model.ts'
import { FraudLabels, type FraudPredictionRow, type TransactionRow } from '../rows.ts'
import { decodeTransaction, type DecodedTransaction } from './decode.ts'
import type { FraudRequest, FraudScoring } from './scoring.ts'
import { admitTransaction, ApplyOutcomes, copyAccount, emptyAccountRecord, type AccountRecord, type WorkingAccount } from './state.ts'

/** A batch's records, decoded: the valid transactions in offset order, and the poison. */
export interface DecodedBatch {
  readonly transactions: readonly DecodedTransaction[]
  readonly poison: readonly Poison[]
}

/** Decodes a batch; the caller then loads the accounts of `accountIds(batch)`. */
export function decodeTransactions (records: readonly SourceRecord[]): DecodedBatch {
  const transactions: DecodedTransaction[] = []
  const poison: Poison[] = []
  for (const r of records) {
    const d = decodeTransaction(r)
    if (d.ok) transactions.push(d.transaction)
    else poison.push(d.poison)
  }
  return { transactions, poison }
}

/** The accounts a decoded batch touches: the keys of the state the caller loads. */
export function accountIds (batch: DecodedBatch): Set<string> {
  return new Set(batch.transactions.map(t => t.row.accountId))
}

/** Everything the batch step needs, passed in: it runs in a unit test with no broker. */
export interface FraudBatchContext {
  readonly scorer: FraudScoring
  /** Retries and the circuit breaker of a remote scorer; needed with one. */
  readonly scoring?: Dependency
  readonly topics: {
    readonly predictions: string
    readonly alerts: string
    deadLetter (source: string): string
  }
  readonly signal: AbortSignal
  readonly now?: () => number
}

/** A transaction applied to its account in this batch, and its score. */
export interface ScoredTransaction {
  readonly transaction: DecodedTransaction
  /** Its features against the account as it was just before it: what the model scored. */
  readonly features: Float64Array
  readonly score: FraudScore
}

export interface FraudBatchResult {
  readonly transactionRows: readonly TransactionRow[]
  readonly predictionRows: readonly FraudPredictionRow[]
  /** The fraud predictions, fraud alerts and dead letters, for Kafka. */
  readonly messages: readonly OutMessage[]
  /** The accounts this batch changed, to store once every sink holds the batch. */
  readonly accounts: ReadonlyMap<string, AccountRecord>
  readonly scored: readonly ScoredTransaction[]
  readonly poison: readonly Poison[]
  readonly counts: {
    readonly records: number
    /** Transactions applied to their accounts and scored (each once). */
    readonly scored: number
    /** Transactions their account had applied already (a replay): skipped. */
    readonly duplicates: number
    readonly deadLettered: number
    readonly fraud: number
  }
}

const text = (s: string): Buffer => Buffer.from(s)

interface Pending {
  readonly transaction: DecodedTransaction
  /** Features against the account as it was just before this transaction. */
  readonly features: Float64Array
  score: FraudScore | undefined
}

/** Applies each transaction its account has not seen; the features are taken before each. */
function applyAll (batch: DecodedBatch, stored: ReadonlyMap<string, AccountRecord>): { pending: Pending[], changed: Map<string, WorkingAccount>, duplicates: number } {
  const changed = new Map<string, WorkingAccount>()
  const pending: Pending[] = []
  /** Accounts whose state this batch moves on: a replay alone changes nothing worth storing. */
  const moved = new Set<string>()
  let duplicates = 0
  // One buffer for the batch's features, each transaction a view of its own part: one allocation, not one a transaction.
  const all = new Float64Array(batch.transactions.length * FRAUD_FEATURES)
  for (const t of batch.transactions) {
    const id = t.row.accountId
    let account = changed.get(id)
    if (account === undefined) changed.set(id, account = copyAccount(stored.get(id) ?? emptyAccountRecord()))
    const outcome = admitTransaction(account, partitionKey(t.record), Number(t.record.offset), t.row.transactionId)
    if (outcome !== ApplyOutcomes.REPLAYED) moved.add(id)
    if (outcome !== ApplyOutcomes.APPLIED) {
      duplicates++
      continue
    }
    const features = all.subarray(pending.length * FRAUD_FEATURES, (pending.length + 1) * FRAUD_FEATURES)
    fraudFeatures(account.profile, t.facts, features)
    applyTransaction(account.profile, t.facts)
    pending.push({ transaction: t, features, score: undefined })
  }
  for (const id of changed.keys()) if (!moved.has(id)) changed.delete(id)
  return { pending, changed, duplicates }
}

/** Scores every pending transaction: in process, or in one remote call through the breaker. */
async function scoreAll (pending: Pending[], poison: Poison[], ctx: FraudBatchContext): Promise<void> {
  const scorer = ctx.scorer
  if (scorer.kind === 'model') {
    for (const p of pending) p.score = scorer.current.scoreFeatures(p.features)
    return
  }
  if (pending.length === 0) return
  if (ctx.scoring === undefined) throw new Error('a remote fraud scorer needs its Dependency (retries and breaker)')
  const requests: FraudRequest[] = pending.map(p => ({ transaction: p.transaction.fields, account: featureRecord(p.features) }))
  const results = await ctx.scoring.run(() => scorer.scoreMany(requests, ctx.signal), ctx.signal)
  results.forEach((result, i) => {
    const p = pending[i] as Pending
    if (result.ok) p.score = result.score
    else poison.push({ record: p.transaction.record, code: PoisonCodes.REJECTED_BY_SCORER, message: `the scoring API refused the transaction (HTTP ${result.status}): ${result.message}` })
  })
}

/** JSON of a value JSON.stringify would write as a number or null. */
const number = (n: number): string => Number.isFinite(n) ? String(n) : 'null'
const quote = (text: string | null): string => text === null ? 'null' : JSON.stringify(text)

/** `"source":{...}`: where the transaction was read. */
function sourceJson (r: SourceRecord): string {
  return `"source":{"topic":${quote(r.topic)},"partition":${r.partition},"offset":${Number(r.offset)}}`
}

/**
 * What both fraud records say of a scored transaction, as the members of a JSON object. The
 * records are written as text here, the same bytes JSON.stringify gives for the same object (a
 * test holds them to it), with the reasons' JSON made once for the record and the SQL row: at
 * thousands of transactions a second the objects built only to be stringified were a good part of
 * the batch step's garbage.
 */
function scoredJson (s: ScoredTransaction, reasons: string): string {
  const row = s.transaction.row
  return `"transaction_id":${quote(row.transactionId)},"account_id":${quote(row.accountId)},"fraud_score":${number(s.score.fraud_score)},` +
    `"model_version":${quote(s.score.model_version)},"reasons":${reasons},"amount":${number(row.amount)},"currency":${quote(row.currency)}`
}

/** The fraud-predictions record of a scored transaction. */
export function fraudPredictionMessage (topic: string, s: ScoredTransaction, at: number, predictedAt = isoUtc(at), reasons = JSON.stringify(s.score.reasons)): OutMessage {
  const row = s.transaction.row
  const value = `{${scoredJson(s, reasons)},"prediction":${quote(s.score.prediction)},"event_timestamp":"${isoUtc(row.eventTime)}",` +
    `"prediction_timestamp":${quote(predictedAt)},${sourceJson(s.transaction.record)}}`
  return { topic, key: text(row.accountId), value: text(value), timestamp: BigInt(at) }
}

/** The fraud-alerts record of a transaction scored `fraud`: what a case handler needs at a glance. */
export function fraudAlertMessage (topic: string, s: ScoredTransaction, at: number, reasons = JSON.stringify(s.score.reasons)): OutMessage {
  const row = s.transaction.row
  const value = `{"alert_type":"fraud",${scoredJson(s, reasons)},"card_id":${quote(row.cardId)},"merchant_id":${quote(row.merchantId)},` +
    `"merchant_category":${quote(row.merchantCategory)},"channel":${quote(row.channel)},"country":${quote(row.country)},` +
    `"event_timestamp":"${isoUtc(row.eventTime)}","alert_timestamp":"${isoUtc(at)}",${sourceJson(s.transaction.record)}}`
  return { topic, key: text(row.accountId), value: text(value), timestamp: BigInt(at) }
}

function predictionRow (s: ScoredTransaction, reasons: string): FraudPredictionRow {
  const r = s.transaction.record
  return {
    transactionId: s.transaction.row.transactionId,
    fraudScore: s.score.fraud_score,
    prediction: s.score.prediction,
    modelVersion: s.score.model_version,
    reasons,
    topic: r.topic,
    partition: r.partition,
    offset: r.offset
  }
}

/**
 * The fraud pipeline's batch step, pure but for the scorer: applies each transaction exactly
 * once to its account (an account remembers the last offset it applied per source partition,
 * and its last transaction ids),
 * scores it with the account as it was just before it (the model's training features), and
 * returns the rows for `transactions` and `predictions`, the Kafka records (fraud predictions and
 * alerts keyed by account id, dead letters), and the accounts it changed. `accounts` holds the
 * stored state of the batch's accounts (missing ones start empty); it is not changed.
 *
 * The caller writes every sink, then the accounts, then commits: an account that has applied a
 * transaction is one whose rows and records are all written, so a replay skips it, and a replay
 * before the account write computes the same results again, which idempotent sinks absorb.
 * A transaction the remote scorer refuses (a 4xx naming it) is dead-lettered and leaves its
 * account as it was; an outage waits inside `ctx.scoring` and never skips one.
 */
export async function fraudBatch (records: readonly SourceRecord[] | DecodedBatch, accounts: ReadonlyMap<string, AccountRecord>, ctx: FraudBatchContext): Promise<FraudBatchResult> {
  const batch = Array.isArray(records) ? decodeTransactions(records) : records as DecodedBatch
  const at = (ctx.now ?? Date.now)()
  const poison = [...batch.poison]
  const { pending, changed, duplicates } = applyAll(batch, accounts)
  await scoreAll(pending, poison, ctx)
  const refused = pending.filter(p => p.score === undefined)
  if (refused.length > 0) replayWithout(batch, accounts, changed, refused)

  const scored: ScoredTransaction[] = []
  const transactionRows: TransactionRow[] = []
  const predictionRows: FraudPredictionRow[] = []
  const messages: OutMessage[] = []
  let fraud = 0
  const predictedAt = isoUtc(at)
  for (const p of pending) {
    if (p.score === undefined) continue
    const s: ScoredTransaction = { transaction: p.transaction, features: p.features, score: p.score }
    scored.push(s)
    const reasons = JSON.stringify(s.score.reasons)
    transactionRows.push(p.transaction.row)
    predictionRows.push(predictionRow(s, reasons))
    messages.push(fraudPredictionMessage(ctx.topics.predictions, s, at, predictedAt, reasons))
    if (s.score.prediction === FraudLabels.FRAUD) {
      fraud++
      messages.push(fraudAlertMessage(ctx.topics.alerts, s, at, reasons))
    }
  }
  for (const p of poison) messages.push(deadLetterMessage(p, ctx.topics.deadLetter(p.record.topic), at))
  return {
    transactionRows,
    predictionRows,
    messages,
    accounts: changed,
    scored,
    poison,
    counts: { records: Array.isArray(records) ? records.length : batch.transactions.length + batch.poison.length, scored: scored.length, duplicates, deadLettered: poison.length, fraud }
  }
}

/**
 * Rebuilds the accounts of refused transactions without them: a dead-lettered transaction must
 * not count in its account's history (a replay from the dead-letter topic would count it twice).
 * Rare (a remote scorer's 4xx), so it simply applies the account's other transactions again. The
 * account's later transactions in this batch keep the scores they got with it counted.
 */
function replayWithout (batch: DecodedBatch, stored: ReadonlyMap<string, AccountRecord>, changed: Map<string, WorkingAccount>, refused: readonly Pending[]): void {
  const skip = new Set(refused.map(p => p.transaction))
  const ids = new Set(refused.map(p => p.transaction.row.accountId))
  for (const id of ids) {
    const account = copyAccount(stored.get(id) ?? emptyAccountRecord())
    for (const t of batch.transactions) {
      if (t.row.accountId !== id) continue
      // The offset moves on past a refused one: it is dead-lettered, done with. Its id is not
      // kept, so a replay from the dead-letter topic is taken as new.
      const outcome = admitTransaction(account, partitionKey(t.record), Number(t.record.offset), t.row.transactionId)
      if (outcome !== ApplyOutcomes.APPLIED) continue
      if (skip.has(t)) account.recent.pop()
      else applyTransaction(account.profile, t.facts)
    }
    changed.set(id, account)
  }
}
