// The fraud pipeline, measured end to end: simulated transactions already in Kafka (6 partitions,
// 20,000 accounts), drained through the real FraudPipeline on the stream runtime into PostgreSQL
// (`transactions` and `predictions`, by the migrations), until every row and offset is committed.
// The pipeline runs in this process, as `churnflow process --streams transactions` runs it (the same
// parts), so the time each batch's rows are committed is seen exactly. Prints:
//   1. after a warm-up drain of --warm-up-count transactions (not measured: the new broker's JVM and
//      this process's code compile), the drain, scored in process, beside PostgreSQL alone taking
//      the same rows the same way: the rows the last drain wrote, read back from its database,
//      written again batch by batch through the same writer (the fraud store), one batch at a time,
//      in a process of its own (bench:fraud-sql --from); the two alternate, the drain first, --runs
//      pairs; ratio target >= 0.8
//   2. the drain scored through the scoring API's batch route (a real buildApi server in this
//      process on port 0, ML_API_URL), beside the original consumer's style on a smaller count: one
//      API call and one SQL write (the fraud store's one statement, both tables) per transaction
//      (FRAUD_BATCH_SIZE=1, through the same API; offsets each second, as its auto-commit); the ratio
//   3. a steady rate (2,000 transactions/s by `churnflow produce --rate`), p50/p95/p99 from the
//      transaction's timestamp to its committed row (target p99 < 100 ms)
//
// The pipeline's KAFKA_COMPRESSION and COMMIT_INTERVAL_MS come from the environment when set there.
// This process runs with the heap flags `churnflow process --streams transactions` runs with
// (fraud-heap.ts); a heap flag in NODE_OPTIONS wins, as it does for the command.
//
//   npm run bench:fraud -- [--count=300000] [--batch-size=5000] [--runs=2] [--seed-style=2000]
//     [--rate=2000] [--seconds=60] [--warm-up=20] [--warm-up-count=50000] [--only=1,2,3] [--broker=host:port | --port=21995]
//     [--url=postgres://postgres@127.0.0.1:5432/postgres]
//
// Without --broker it starts a local Kafka of its own on --port (stopped at the end): do not run it
// beside bench:processor's (21994). With --broker it uses that one and deletes its topics after.
import './fraud-heap.ts'
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import pg from 'pg'
import { buildApi } from '../src/api/index.ts'
import { ModelHolder, shippedChurnModelPath } from '../src/churn/index.ts'
import { loadConfig } from '../src/config/index.ts'
import { FraudScorer, openFraudPipeline, shippedFraudModelPath, type TransactionRow } from '../src/fraud/index.ts'
import { createAdmin } from '../src/kafka/client/index.ts'
import { startLocalKafka, stopLocalKafka } from '../src/kafka/local/index.ts'
import { createLogger } from '../src/logging/index.ts'
import { type FraudStore } from '../src/sql/index.ts'
import { StreamRuntime, type TakenRecord } from '../src/stream/index.ts'
import { cpuBetween, processCpu, type FraudSqlResult } from './fraud-sql.ts'

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '300000' },
    'batch-size': { type: 'string', default: '5000' },
    runs: { type: 'string', default: '2' },
    'seed-style': { type: 'string', default: '2000' },
    rate: { type: 'string', default: '2000' },
    seconds: { type: 'string', default: '60' },
    'warm-up': { type: 'string', default: '20' },
    'warm-up-count': { type: 'string', default: '50000' },
    only: { type: 'string', default: '1,2,3' },
    broker: { type: 'string' },
    port: { type: 'string', default: '21995' },
    url: { type: 'string', default: process.env.CHURNFLOW_BENCH_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/postgres' }
  }
})
const count = Number(values.count)
const batchSize = Number(values['batch-size'])
const only = new Set(values.only.split(','))
const broker = values.broker ?? `127.0.0.1:${values.port}`
const ownBroker = values.broker === undefined
const run = `${process.pid}_${Date.now().toString(36)}`
const bin = 'bin/churnflow.js'
const ACCOUNTS = '20000'
const PARTITIONS = '6'

const log = createLogger({ level: 'warn', format: 'text' })
/** Settings of the pipeline a run may change from the environment, to compare them. */
const passedThrough = Object.fromEntries(['KAFKA_COMPRESSION', 'COMMIT_INTERVAL_MS'].flatMap(name => process.env[name] === undefined ? [] : [[name, process.env[name] as string]]))
const stateDir = await mkdtemp(join(tmpdir(), 'churnflow-bench-fraud-'))
const admin = new pg.Client({ connectionString: values.url })
const databases: string[] = []
const topics: string[] = []
const say = (line: string): void => { console.log(line) }

/** Runs a script of this repository under this Node to its end; its output (stdout and stderr). */
function runScript (script: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d: Buffer) => { out += d.toString('utf8') })
    child.stderr.on('data', (d: Buffer) => { out += d.toString('utf8') })
    child.on('error', reject)
    child.on('close', code => { if (code === 0) resolve(out); else reject(new Error(`${script} ${args.join(' ')} exited ${String(code)}:\n${out.slice(-3000)}`)) })
  })
}

/** Runs the churnflow CLI to its end against the bench's broker. */
const cli = (args: string[], env: Record<string, string>): Promise<string> =>
  runScript(bin, args, { KAFKA_BROKER: broker, LOG_LEVEL: 'warn', KAFKA_PARTITIONS: PARTITIONS, ...env })

/** Simulated transactions of 20,000 accounts into `topic` as fast as the producer goes (timestamps: the wall clock). */
async function produce (topic: string, n: number, seed: number): Promise<void> {
  topics.push(topic, `${topic}-failed`)
  const t = performance.now()
  await cli(['produce', '--stream', 'transactions', '--rate', 'max', '--count', String(n), '--seed', String(seed), '--accounts', ACCOUNTS], { KAFKA_TOPIC_TRANSACTIONS: topic })
  say(`  (${n} transactions produced to ${topic} in ${((performance.now() - t) / 1000).toFixed(1)} s)`)
}

/** A new PostgreSQL database on the server, dropped at the end; its URL. */
async function freshDatabase (name: string): Promise<string> {
  const database = `churnflow_bench_fraud_${name}_${run}`
  await admin.query(`CREATE DATABASE ${database}`)
  databases.push(database)
  const url = new URL(values.url)
  url.pathname = `/${database}`
  return url.toString()
}

async function rowCounts (url: string): Promise<{ transactions: number, predictions: number }> {
  const c = new pg.Client({ connectionString: url })
  await c.connect()
  try {
    const row = (await c.query<{ t: string, p: string }>('SELECT (SELECT COUNT(*) FROM transactions) AS t, (SELECT COUNT(*) FROM predictions) AS p')).rows[0]
    return { transactions: Number(row?.t), predictions: Number(row?.p) }
  } finally { await c.end() }
}

/**
 * Vacuums a drained database's tables: counting the rows set their hint bits, and autovacuum
 * would soon visit the new tables, both work that would otherwise land in a later phase (reading
 * them back for PostgreSQL alone then dirties nothing).
 */
async function vacuum (url: string): Promise<void> {
  const c = new pg.Client({ connectionString: url })
  await c.connect()
  try {
    await c.query('VACUUM transactions, predictions')
  } finally { await c.end() }
}

/** Drops a database of `freshDatabase` before the end of the run. */
async function dropDatabase (url: string): Promise<void> {
  const database = new URL(url).pathname.slice(1)
  await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)
  databases.splice(databases.indexOf(database), 1)
}

interface PipelineRun {
  readonly name: string
  readonly topic: string
  readonly databaseUrl: string
  readonly batchSize: number
  /** Score through this API (ML_API_URL) instead of in process. */
  readonly apiUrl?: string
  /** Drain and return once idle this long; else run until `stop()`. */
  readonly exitWhenIdleMs?: number
  readonly onProcessed?: (records: readonly TakenRecord[], at: number) => void
  /** Called as each write of the fraud store resolves (PostgreSQL has acknowledged the COMMIT), with its transactions and when the write began. */
  readonly onCommitted?: (rows: readonly TransactionRow[], at: number, began: number) => void
}

/** The store, with `onCommitted` told the moment each write has committed. */
function observed (store: FraudStore, onCommitted: PipelineRun['onCommitted']): FraudStore {
  if (onCommitted === undefined) return store
  return {
    dialect: store.dialect,
    name: store.name,
    async write (transactions, predictions) {
      const began = Date.now()
      const result = await store.write(transactions, predictions)
      onCommitted(transactions, Date.now(), began)
      return result
    },
    ping: () => store.ping(),
    close: () => store.close(),
    [Symbol.asyncDispose]: () => store.close()
  }
}

/** The fraud pipeline on the stream runtime, wired as `churnflow process --streams transactions` wires it. */
function fraudRuntime (o: PipelineRun): { runtime: StreamRuntime, close: () => Promise<void> } {
  const group = `bench-fraud-${o.name}-${run}`
  topics.push(`${group}-accounts-changelog`, `${o.topic}-${o.name}-predictions`, `${o.topic}-${o.name}-alerts`)
  const { config } = loadConfig({
    env: {
      KAFKA_BROKER: broker,
      KAFKA_PARTITIONS: PARTITIONS,
      KAFKA_TOPIC_TRANSACTIONS: o.topic,
      KAFKA_TOPIC_FRAUD_PREDICTIONS: `${o.topic}-${o.name}-predictions`,
      KAFKA_TOPIC_FRAUD_ALERTS: `${o.topic}-${o.name}-alerts`,
      FRAUD_CONSUMER_GROUP: group,
      FRAUD_BATCH_SIZE: String(o.batchSize),
      DATABASE_URL: o.databaseUrl,
      CHURNFLOW_STATE_DIR: join(stateDir, o.name),
      LOG_LEVEL: 'warn',
      ...passedThrough,
      ...(o.apiUrl === undefined ? {} : { ML_API_URL: o.apiUrl })
    },
    envFile: false
  })
  const { pipeline, store, settings } = openFraudPipeline(config, log, { migrate: true, wrapStore: s => observed(s, o.onCommitted) })
  const runtime = new StreamRuntime({
    pipeline, config, log, batchSize: settings.batchSize, retry: settings.retry,
    ...(o.exitWhenIdleMs === undefined ? {} : { exitWhenIdleMs: o.exitWhenIdleMs }),
    ...(o.onProcessed === undefined ? {} : { onProcessed: o.onProcessed })
  })
  return { runtime, close: () => store.close() }
}

/**
 * Drains `topic` (`expected` transactions) through the pipeline into a fresh database and checks
 * every row is there. The rate is the runtime's: transactions from the first record taken to the
 * last offset committed (joining the group and restoring the empty state are before it).
 */
async function drain (o: Omit<PipelineRun, 'databaseUrl' | 'exitWhenIdleMs' | 'onProcessed'>, expected: number): Promise<{ rate: number, seconds: number, meanBatch: number, cpu: CpuSpent | undefined, databaseUrl: string }> {
  const databaseUrl = await freshDatabase(o.name)
  // As PostgreSQL alone does: the drain starts with no dirty pages of an earlier phase to write.
  await admin.query('CHECKPOINT')
  let done = 0
  let shown = Date.now()
  let from: CpuReading | undefined
  const { runtime, close } = fraudRuntime({
    ...o,
    databaseUrl,
    exitWhenIdleMs: 2000,
    onProcessed: records => {
      // From the first batch's end: joining the group and restoring the empty state are not the drain's.
      from ??= { ...cpuReading(), records: done + records.length }
      done += records.length
      if (Date.now() - shown >= 10_000) {
        shown = Date.now()
        const first = runtime.stats.firstRecordAt ?? shown
        console.log(`     ... ${done}/${expected} (${Math.round(done / ((shown - first) / 1000))}/s so far)`)
      }
    }
  })
  let to: CpuReading | undefined
  try {
    await runtime.run()
    to = { ...cpuReading(), records: done }
  } finally {
    await close()
  }
  const s = runtime.stats
  const rows = await rowCounts(databaseUrl)
  if (s.eventsProcessed !== expected || s.deadLettered !== 0 || rows.transactions !== expected || rows.predictions !== expected) {
    throw new Error(`${o.name}: ${s.eventsProcessed} processed, ${s.deadLettered} dead-lettered, ${rows.transactions} transactions and ${rows.predictions} predictions stored for ${expected}`)
  }
  await vacuum(databaseUrl)
  const seconds = ((s.lastCommitAt ?? NaN) - (s.firstRecordAt ?? NaN)) / 1000
  return { rate: Math.round(expected / seconds), seconds, meanBatch: Math.round(s.records / s.batches), cpu: from === undefined || to === undefined ? undefined : cpuSpent(from, to), databaseUrl }
}

/**
 * PostgreSQL alone, in a process of its own (bench:fraud-sql --from): the rows the drain wrote to
 * `database`, batch by batch, written again into a fresh database the same way. Its own process,
 * so neither side meets the other's heap: the drain's rows read back are garbage the pipeline's
 * process would otherwise collect (the pipeline spent 20-30 % more CPU a transaction after them).
 */
async function postgresAloneFrom (database: string, expected: number): Promise<FraudSqlResult> {
  const out = await runScript('bench/fraud-sql.ts', [`--from=${database}`, `--url=${values.url}`, '--json'])
  const result = JSON.parse(out.trim().split('\n').at(-1) as string) as FraudSqlResult
  if (result.rows !== expected) throw new Error(`PostgreSQL alone took ${result.rows} rows from the drain's database, expected ${expected}`)
  return result
}

interface CpuReading {
  readonly process: NodeJS.CpuUsage
  readonly elu: ReturnType<typeof performance.eventLoopUtilization>
  readonly postgres: Map<number, number>
  readonly broker: Map<number, number>
  readonly records: number
}

function cpuReading (): Omit<CpuReading, 'records'> {
  return { process: process.cpuUsage(), elu: performance.eventLoopUtilization(), postgres: processCpu(), broker: ownBroker ? processCpu(['-f', kafkaState]) : new Map() }
}

/** Where the CPU went in a drain, µs per transaction (undefined where it could not be read). */
interface CpuSpent {
  readonly process: number
  /** How busy the process's main thread was, 0 to 1. */
  readonly mainThread: number
  readonly postgres: number | undefined
  readonly broker: number | undefined
}

/**
 * Where the CPU went between two readings, per transaction: this process (all its threads), how
 * busy its main thread was, the local PostgreSQL's processes and the bench's own broker (after the
 * runtime's exit, so the last ~2 s of idle are in the main thread's share).
 */
function cpuSpent (from: CpuReading, to: CpuReading): CpuSpent | undefined {
  const n = to.records - from.records
  if (n <= 0) return undefined
  const us = (seconds: number | undefined): number | undefined => seconds === undefined ? undefined : seconds / n * 1e6
  return {
    process: (to.process.user + to.process.system - from.process.user - from.process.system) / n,
    mainThread: performance.eventLoopUtilization(to.elu, from.elu).utilization,
    postgres: us(cpuBetween(from.postgres, to.postgres)),
    broker: us(cpuBetween(from.broker, to.broker))
  }
}

/**
 * The most transactions a second `cores` give at this CPU a transaction (the three together) if
 * they did nothing else: no scheduling passes it, only spending less CPU does.
 */
function ceiling (c: CpuSpent, cores: number): number | undefined {
  return c.postgres === undefined || c.broker === undefined ? undefined : cores * 1e6 / (c.process + c.postgres + c.broker)
}

function cpuLine (c: CpuSpent): string {
  const us = (x: number | undefined): string => x === undefined ? '?' : x.toFixed(0)
  return `CPU per transaction: this process ${us(c.process)} µs (main thread busy ${(c.mainThread * 100).toFixed(0)}%), ` +
    `postgres ${us(c.postgres)} µs, broker ${us(c.broker)} µs`
}

/** The scoring API (churn and fraud routes, the shipped models) listening on port 0 of 127.0.0.1 in this process. */
async function startApi (): Promise<{ url: string, close: () => Promise<void> }> {
  const quiet = createLogger({ level: 'warn', format: 'text' })
  const api = buildApi({ models: new ModelHolder(shippedChurnModelPath, quiet), fraud: { current: FraudScorer.fromFile(shippedFraudModelPath) }, log: quiet, ownsResources: true })
  const url = await api.listen({ host: '127.0.0.1', port: 0 })
  return { url, close: () => api.close() }
}

const quantile = (sorted: readonly number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN

/**
 * Case 3. The pipeline runs from before the producer starts. Each row's latency is the moment the
 * fraud store's write of it resolved (PostgreSQL has acknowledged the COMMIT: the row is
 * committed) minus the transaction's timestamp, both read on this machine's clock. The producer
 * runs `--warm-up` seconds more than `--seconds`, and the transactions of those first seconds are
 * left out: a broker started for the run is a new JVM still compiling its hot paths, and the
 * latency it adds falls over its first ~15 s (p99 of the first 10 s 96-198 ms with a new broker,
 * 48-76 ms with one that had been running for most of an hour, the rest of the run alike; the
 * `p99 by 10 s window` line shows it in each run). The rows' created_at (now() of their SQL transaction:
 * when it began, before the COMMIT) minus event_timestamp is printed beside it, a lower bound read
 * back from the table.
 */
async function steady (rate: number, seconds: number, warmUpSeconds: number): Promise<void> {
  const topic = `bench-fraud-steady-${run}`
  topics.push(topic, `${topic}-failed`)
  const databaseUrl = await freshDatabase('steady')
  const warmUpMs = warmUpSeconds * 1000
  const latencies: number[] = []
  /** The latencies by the 10 s window of their transaction's timestamp: where in the run the tail is. */
  const windows: number[][] = []
  const writes: number[] = []
  let measureFrom: number | undefined
  let lastMeasured = 0
  const { runtime, close } = fraudRuntime({
    name: 'steady', topic, databaseUrl, batchSize,
    onCommitted: (rows, at, began) => {
      if (measureFrom !== undefined && (rows[0]?.eventTime ?? 0) >= measureFrom) writes.push(at - began)
      for (const r of rows) {
        measureFrom ??= r.eventTime + warmUpMs
        if (r.eventTime < measureFrom) continue
        latencies.push(at - r.eventTime)
        ;(windows[Math.floor((r.eventTime - measureFrom) / 10_000)] ??= []).push(at - r.eventTime)
        lastMeasured = Math.max(lastMeasured, r.eventTime)
      }
    }
  })
  const running = runtime.run()
  try {
    const deadline = Date.now() + 120_000
    while (runtime.source.assignments().length === 0) {
      if (Date.now() > deadline || !runtime.running) throw new Error('the steady pipeline did not join its group in 120 s')
      await new Promise(resolve => setTimeout(resolve, 200))
    }
    let shown = Date.now()
    const progress = setInterval(() => {
      const now = Date.now()
      if (now - shown < 10_000) return
      shown = now
      const sorted = latencies.slice().sort((a, b) => a - b)
      console.log(`     ... ${latencies.length} measured, p99 so far ${quantile(sorted, 0.99)} ms`)
    }, 1000)
    try {
      await cli(['produce', '--stream', 'transactions', '--rate', String(rate), '--duration', `${seconds + warmUpSeconds}s`, '--seed', '3', '--accounts', ACCOUNTS], { KAFKA_TOPIC_TRANSACTIONS: topic })
      // Done when every partition's committed offset has reached its end.
      const until = Date.now() + 300_000
      while ((await runtime.lag()).some(p => p.lag > 0)) {
        if (Date.now() > until) throw new Error('the steady pipeline did not catch up within 5 minutes of the producer\'s end')
        await new Promise(resolve => setTimeout(resolve, 500))
      }
    } finally {
      clearInterval(progress)
    }
  } finally {
    runtime.stop()
    await running
    await close()
  }
  const c = new pg.Client({ connectionString: databaseUrl })
  await c.connect()
  const lower = (await c.query<{ ms: string }>('SELECT EXTRACT(EPOCH FROM (created_at - event_timestamp)) * 1000 AS ms FROM transactions WHERE event_timestamp >= to_timestamp($1 / 1000.0) ORDER BY 1', [measureFrom ?? 0])).rows.map(r => Number(r.ms))
  const stored = await rowCounts(databaseUrl)
  await c.end()
  if (stored.transactions !== runtime.stats.eventsProcessed || stored.predictions !== stored.transactions || runtime.stats.deadLettered !== 0) {
    throw new Error(`steady: ${runtime.stats.eventsProcessed} processed, ${runtime.stats.deadLettered} dead-lettered, ${stored.transactions} transactions and ${stored.predictions} predictions stored`)
  }
  latencies.sort((a, b) => a - b)
  writes.sort((a, b) => a - b)
  const achieved = Math.round(latencies.length / ((lastMeasured - (measureFrom ?? NaN)) / 1000))
  say(`  3. steady ${rate} transactions/s for ${seconds} s (${latencies.length} transactions after a ${warmUpMs / 1000} s warm-up, ${achieved}/s; ${stored.transactions} in all, each stored once), transaction timestamp -> committed row:`)
  say(`     p50 ${quantile(latencies, 0.5)} ms, p95 ${quantile(latencies, 0.95)} ms, p99 ${quantile(latencies, 0.99)} ms, max ${quantile(latencies, 1)} ms (target p99 < 100 ms)`)
  say('     measured as the fraud store\'s write of the row resolved (PostgreSQL acknowledged its COMMIT) minus the transaction\'s timestamp, one clock;')
  say(`     p99 by 10 s window of the run: ${[...windows].map(w => w === undefined ? '-' : quantile(w.sort((a, b) => a - b), 0.99)).join(', ')} ms`)
  say(`     of which the store's write (its statement sent to its COMMIT acknowledged; ${writes.length} batches, mean ${Math.round(latencies.length / writes.length)} rows): p50 ${quantile(writes, 0.5)} ms, p99 ${quantile(writes, 0.99)} ms;`)
  say(`     the rows' created_at (their SQL transaction's start, a lower bound) minus event_timestamp: p50 ${quantile(lower, 0.5).toFixed(0)} ms, p99 ${quantile(lower, 0.99).toFixed(0)} ms`)
}

const kafkaState = join(stateDir, 'kafka')
try {
  await admin.connect()
  if (ownBroker) {
    const { config } = loadConfig({ env: { ...process.env, KAFKA_BROKER: broker }, envFile: false })
    await startLocalKafka({ stateDir: kafkaState, cacheDir: config.cacheDir, log, env: process.env, brokerPort: Number(values.port) })
  }
  say(`fraud pipeline, simulated transactions of ${ACCOUNTS} accounts already in Kafka (${PARTITIONS} partitions, broker ${broker}${ownBroker ? ', started for this run' : ''}), drained into PostgreSQL (${values.url.replace(/\/\/[^@]*@/, '//')}), FRAUD_BATCH_SIZE ${batchSize}` +
    Object.entries(passedThrough).map(([k, v]) => `, ${k} ${v}`).join(''))
  if (only.has('1') || only.has('2')) await produce(`bench-fraud-${run}`, count, 1)
  if (only.has('1')) {
    const warmUp = Number(values['warm-up-count'])
    if (warmUp > 0) {
      // A broker started for the run is a new JVM, and this process's pipeline code is not yet
      // compiled either: a first drain ran 2-40% slower than the next (median 10%, seven pairs).
      // One drain of its own first.
      await produce(`bench-fraud-warm-up-${run}`, warmUp, 4)
      const w = await drain({ name: 'warmup', topic: `bench-fraud-warm-up-${run}`, batchSize }, warmUp)
      say(`  (warm-up, not measured: ${warmUp} transactions drained at ${w.rate}/s)`)
      await dropDatabase(w.databaseUrl)
    }
    say(`  1. ${count} transactions: the pipeline (scored in process) and PostgreSQL alone (the rows the last drain wrote, its batches, through the fraud store one at a time), alternating`)
    const ratios: number[] = []
    const cores = availableParallelism()
    /** The last drain's database: PostgreSQL alone takes its rows, batch by batch (the first run drains first). */
    let drained: string | undefined
    for (let r = 1; r <= Number(values.runs); r++) {
      let most: number | undefined
      // Alternate which goes first, so neither always meets the other's leftovers (autovacuum, page cache).
      const order = r % 2 === 1 ? ['pipeline', 'alone'] : ['alone', 'pipeline']
      const got: Record<string, number> = {}
      for (const which of order) {
        if (which === 'alone') {
          const a = await postgresAloneFrom(drained as string, count)
          got.alone = a.rate
          say(`     run ${r}, PostgreSQL alone: ${a.rate} rows/s (${a.seconds.toFixed(1)} s${a.cpuPerRowUs === undefined ? '' : `, postgres CPU ${a.cpuPerRowUs.toFixed(1)} µs/row`})`)
        } else {
          const p = await drain({ name: `inprocess${r}`, topic: `bench-fraud-${run}`, batchSize }, count)
          // Only the last drain's rows are written again: an earlier drain's database goes now.
          if (drained !== undefined) await dropDatabase(drained)
          drained = p.databaseUrl
          got.pipeline = p.rate
          say(`     run ${r}, the pipeline:        ${p.rate} transactions/s (${p.seconds.toFixed(1)} s, mean batch ${p.meanBatch})`)
          if (p.cpu !== undefined) say(`       ${cpuLine(p.cpu)}`)
          most = p.cpu === undefined ? undefined : ceiling(p.cpu, cores)
        }
      }
      const ratio = (got.pipeline ?? NaN) / (got.alone ?? NaN)
      ratios.push(ratio)
      say(`     run ${r}, pipeline / PostgreSQL alone: ${ratio.toFixed(2)} (target >= 0.8)`)
      if (most !== undefined) say(`     run ${r}, at that CPU per transaction ${cores} cores give at most ${Math.round(most)} transactions/s: ${(most / (got.alone ?? NaN)).toFixed(2)} of PostgreSQL alone`)
    }
    if (ratios.length > 1) say(`     ratios: ${ratios.map(x => x.toFixed(2)).join(', ')}`)
  }
  if (only.has('2')) {
    const api = await startApi()
    try {
      const batched = await drain({ name: 'api', topic: `bench-fraud-${run}`, batchSize, apiUrl: api.url }, count)
      say(`  2. ${count} transactions scored through the scoring API's batch route (buildApi in this process, ${api.url}): ${batched.rate} transactions/s (${batched.seconds.toFixed(1)} s, mean batch ${batched.meanBatch})`)
      const n = Number(values['seed-style'])
      const topic = `bench-fraud-seed-style-${run}`
      await produce(topic, n, 2)
      const one = await drain({ name: 'seedstyle', topic, batchSize: 1, apiUrl: api.url }, n)
      say(`     the original consumer's style, ${n} transactions one at a time (FRAUD_BATCH_SIZE=1: one API call and one SQL write of both tables each; offsets committed each second, as its auto-commit did): ${one.rate} transactions/s (${one.seconds.toFixed(1)} s)`)
      say(`     batch route / one at a time: ${(batched.rate / one.rate).toFixed(1)}x`)
    } finally {
      await api.close()
    }
  }
  if (only.has('3')) await steady(Number(values.rate), Number(values.seconds), Number(values['warm-up']))
} finally {
  for (const d of databases) await admin.query(`DROP DATABASE IF EXISTS ${d} WITH (FORCE)`).catch(() => undefined)
  await admin.end().catch(() => undefined)
  if (ownBroker) {
    await stopLocalKafka({ stateDir: kafkaState, log })
  } else {
    const kafka = createAdmin(loadConfig({ env: { KAFKA_BROKER: broker }, envFile: false }).config)
    await kafka.deleteTopics({ topics: [...new Set(topics)] }).catch(() => undefined)
    await kafka.close()
  }
  await rm(stateDir, { recursive: true, force: true })
}
