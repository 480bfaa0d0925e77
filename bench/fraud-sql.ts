// PostgreSQL alone taking the fraud pipeline's rows the way its writer does: a batch of
// transactions and their predictions in one statement (so one transaction), each table an
// INSERT ... SELECT unnest(...) ON CONFLICT DO NOTHING on transaction_id, one batch at a time. Prints rows/s
// (a row = one transaction with its prediction) and PostgreSQL's CPU per row, read from /proc.
// bench:fraud runs it with --from beside the pipeline: the rows the pipeline wrote, written again.
//
//   npm run bench:fraud-sql -- [--rows=50000] [--full (300,000 rows)] [--batch-size=5000] [--runs=1]
//     [--from=<a fraud pipeline's database URL: its rows, batch by batch, instead of synthetic ones>]
//     [--json (one result object a run)] [--url=postgres://postgres@127.0.0.1:5432/postgres]
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import pg from 'pg'
import { FraudLabels, type FraudLabel, type FraudPredictionRow, type TransactionRow } from '../src/fraud/rows.ts'
import { migrate, PostgresFraudStore } from '../src/sql/index.ts'

/** One write of the fraud store: transactions and their predictions. */
export interface FraudRowBatch {
  readonly transactions: readonly TransactionRow[]
  readonly predictions: readonly FraudPredictionRow[]
}

export interface FraudSqlOptions {
  /** A PostgreSQL server URL; the run creates its own database there and drops it after. */
  readonly url: string
  /** The batches to write, as they are (`fraudBatches` or `storedBatches`). */
  readonly batches: readonly FraudRowBatch[]
}

export interface FraudSqlResult {
  readonly rows: number
  readonly seconds: number
  /** Transactions (each with its prediction) per second. */
  readonly rate: number
  /** CPU µs the local PostgreSQL spent per transaction, or undefined when it is not local. */
  readonly cpuPerRowUs: number | undefined
}

const categories = ['grocery', 'electronics', 'travel', 'fashion', 'restaurants', 'fuel', 'gaming', 'jewelry']
const channels = ['pos', 'online', 'mobile', 'atm']
const countries = ['US', 'GB', 'DE', 'FR', 'NL', 'ES', 'BR', 'NG']

/** Batches of rows shaped as the pipeline's: 20,000 accounts, a fraud share of about 2 %, a third with extra fields. */
export function fraudBatches (rows: number, batchSize: number, runId: string): FraudRowBatch[] {
  const start = Date.now() - 600_000
  const batches: FraudRowBatch[] = []
  for (let from = 0; from < rows; from += batchSize) {
    const transactions: TransactionRow[] = []
    const predictions: FraudPredictionRow[] = []
    for (let n = from; n < Math.min(rows, from + batchSize); n++) {
      const id = `${runId}-${n.toString(36).padStart(8, '0')}`
      const score = ((n * 2654435761) % 10_000) / 10_000
      transactions.push({
        transactionId: id, accountId: `acct-${(n * 7919) % 20_000}`, cardId: `card-${(n * 104729) % 40_000}`,
        amount: Math.round(((n * 31) % 50_000) + 99) / 100, currency: 'USD', merchantId: `merchant-${n % 5000}`,
        merchantCategory: categories[n % categories.length] as string, channel: channels[n % channels.length] as string,
        country: countries[n % countries.length] as string, eventTime: start + n,
        extra: n % 3 === 0 ? `{"device_id":"dev-${n % 9000}","ip":"10.0.${n % 256}.${(n >> 8) % 256}"}` : null
      })
      predictions.push({
        transactionId: id, fraudScore: score, prediction: score > 0.98 ? FraudLabels.FRAUD : FraudLabels.LEGIT,
        modelVersion: 'fraud-bench-1', reasons: '["velocity_10m","amount_vs_habit","new_country"]',
        topic: 'transactions', partition: n % 6, offset: BigInt(Math.floor(n / 6))
      })
    }
    batches.push({ transactions, predictions })
  }
  return batches
}

/**
 * The rows a fraud pipeline wrote to its database, batch by batch, as the fraud store was given
 * them: a batch's rows share their SQL transaction's created_at; in a batch, by partition and offset.
 * What PostgreSQL alone takes in bench:fraud's case 1: the same rows, the same way (the pipeline's
 * reasons, three objects each, cost PostgreSQL more than `fraudBatches`' three names).
 */
export async function storedBatches (url: string): Promise<FraudRowBatch[]> {
  const c = new pg.Client({ connectionString: url })
  await c.connect()
  try {
    const { rows } = await c.query<Record<string, unknown>>(`SELECT t.*, (EXTRACT(EPOCH FROM t.created_at) * 1000000)::bigint::text AS at_us, p.fraud_score, p.prediction, p.model_version, p.reasons, p.kafka_topic, p.kafka_partition, p.kafka_offset
      FROM transactions t JOIN predictions p USING (transaction_id) ORDER BY t.created_at, p.kafka_partition, p.kafka_offset`)
    const batches: { transactions: TransactionRow[], predictions: FraudPredictionRow[], at: string }[] = []
    for (const r of rows) {
      const at = r.at_us as string
      let b = batches.at(-1)
      if (b === undefined || b.at !== at) batches.push(b = { transactions: [], predictions: [], at })
      const transactionId = r.transaction_id as string
      b.transactions.push({
        transactionId, accountId: r.account_id as string, cardId: r.card_id as string | null, amount: r.amount as number, currency: r.currency as string,
        merchantId: r.merchant_id as string, merchantCategory: r.merchant_category as string, channel: r.channel as string, country: r.country as string,
        eventTime: (r.event_timestamp as Date).getTime(), extra: r.extra === null ? null : JSON.stringify(r.extra)
      })
      b.predictions.push({
        transactionId, fraudScore: r.fraud_score as number, prediction: r.prediction as FraudLabel, modelVersion: r.model_version as string,
        reasons: JSON.stringify(r.reasons), topic: r.kafka_topic as string, partition: r.kafka_partition as number, offset: BigInt(r.kafka_offset as string)
      })
    }
    return batches
  } finally { await c.end() }
}

/**
 * CPU seconds per local process `pgrep` finds with `args` (utime + stime, fields 14 and 15 of
 * /proc/<pid>/stat); empty when none runs here. `['-x', 'postgres']`: the local PostgreSQL.
 */
export function processCpu (args: readonly string[] = ['-x', 'postgres']): Map<number, number> {
  const cpu = new Map<number, number>()
  try {
    for (const pid of execFileSync('pgrep', args, { encoding: 'utf8' }).trim().split('\n').map(Number)) {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')
      cpu.set(pid, (Number(fields[11]) + Number(fields[12])) / 100)
    }
  } catch {
    // None running, or a process that ended while being read: what was read stands.
  }
  return cpu
}

/** CPU spent between two readings; a process that started in between counts all of its own. */
export function cpuBetween (before: Map<number, number>, after: Map<number, number>): number | undefined {
  if (before.size === 0 || after.size === 0) return undefined
  let seconds = 0
  for (const [pid, s] of after) seconds += s - (before.get(pid) ?? 0)
  return seconds
}

/**
 * Writes the batches' transactions and predictions into a fresh database on the server through
 * the fraud store, one batch after another, and checks every row is there.
 */
export async function postgresAlone (options: FraudSqlOptions): Promise<FraudSqlResult> {
  const database = `churnflow_bench_fraud_${process.pid}_${Date.now().toString(36)}`
  const admin = new pg.Client({ connectionString: options.url })
  await admin.connect()
  await admin.query(`CREATE DATABASE ${database}`)
  const url = new URL(options.url)
  url.pathname = `/${database}`
  const store = new PostgresFraudStore({ url: url.toString(), queryTimeoutMs: 120_000 })
  try {
    await migrate({ databaseUrl: url.toString(), dbHost: undefined, dbPort: 3306, dbUser: 'root', dbPassword: '', dbName: 'churn_db', stateDir: '/nonexistent' })
    const batches = options.batches
    const rows = batches.reduce((n, b) => n + b.transactions.length, 0)
    await store.ping()
    // Every phase starts with no dirty pages of another's to write (bench:fraud checkpoints before a drain too).
    await admin.query('CHECKPOINT')
    const cpu0 = processCpu()
    const t = performance.now()
    let written = 0
    for (const b of batches) written += (await store.write(b.transactions, b.predictions)).transactions
    const seconds = (performance.now() - t) / 1000
    const cpu = cpuBetween(cpu0, processCpu())
    const check = new pg.Client({ connectionString: url.toString() })
    await check.connect()
    const counts = (await check.query<{ t: string, p: string }>('SELECT (SELECT COUNT(*) FROM transactions) AS t, (SELECT COUNT(*) FROM predictions) AS p')).rows[0]
    await check.end()
    if (written !== rows || Number(counts?.t) !== rows || Number(counts?.p) !== rows) {
      throw new Error(`PostgreSQL alone: wrote ${written}, found ${counts?.t ?? '?'} transactions and ${counts?.p ?? '?'} predictions for ${rows}`)
    }
    return { rows, seconds, rate: Math.round(rows / seconds), cpuPerRowUs: cpu === undefined ? undefined : cpu / rows * 1e6 }
  } finally {
    await store.close()
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch(() => undefined)
    await admin.end()
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      rows: { type: 'string', default: '50000' },
      full: { type: 'boolean', default: false },
      'batch-size': { type: 'string', default: '5000' },
      from: { type: 'string' },
      runs: { type: 'string', default: '1' },
      json: { type: 'boolean', default: false },
      url: { type: 'string', default: process.env.CHURNFLOW_BENCH_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/postgres' }
    }
  })
  const rows = values.full ? 300_000 : Number(values.rows)
  const batchSize = Number(values['batch-size'])
  const runId = `${process.pid}_${Date.now().toString(36)}`
  const batches = values.from === undefined ? fraudBatches(rows, batchSize, runId) : await storedBatches(values.from)
  if (!values.json) {
    const what = values.from === undefined
      ? `${rows} synthetic transactions + their predictions, batches of ${batchSize}`
      : `the ${batches.reduce((n, b) => n + b.transactions.length, 0)} transactions + predictions of ${values.from.replace(/\/\/[^@]*@/, '//')}, its ${batches.length} batches`
    console.log(`fraud rows into PostgreSQL alone: ${what}, one statement each, unnest + ON CONFLICT DO NOTHING`)
  }
  for (let run = 1; run <= Number(values.runs); run++) {
    const r = await postgresAlone({ url: values.url, batches })
    if (values.json) console.log(JSON.stringify(r))
    else console.log(`  run ${run}: ${r.rate} rows/s (${r.seconds.toFixed(2)} s)` + (r.cpuPerRowUs === undefined ? '' : `, postgres CPU ${r.cpuPerRowUs.toFixed(1)} µs/row`))
  }
}
