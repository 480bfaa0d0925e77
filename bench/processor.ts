// The churn processor, measured: events already in Kafka, drained into MariaDB until the last
// row and offset are committed, on one fresh local broker (broker, MariaDB, Redis and the
// processor share this machine's cores). Prints first what MariaDB alone takes, then, each from
// `churnflow process` run as a user runs it:
//   0. MariaDB alone: the processor's own insert path (LOAD DATA LOCAL into the churn prediction consumer's table plus
//      the unique key), fed rows with nothing else running: the ceiling any drain into it meets
//   1. in-process model and profiles            (target >= 50,000 events/s)
//   2. Redis profiles                           (target >= 20,000 events/s)
//   3. the scoring API's batch route            (target >= 15,000 events/s)
//   4. the original consumer's style: one event at a time (BATCH_SIZE=1 through the API: one HTTP call, one
//      INSERT, one commit each), and the ratio of 3 to it
//   5. a steady 5,000 events/s: p50/p99 from event timestamp to committed row (target p99 <= 100 ms)
//   6. peak RSS while draining a backlog of 5 million events (target <= 400 MB)
//
//   npm run bench:processor -- [--events=500000] [--backlog=5000000] [--backlog-batch-size=5000] [--seed-style=5000] [--only=0,1,2,3,4,5,6]
import './processor-heap.ts'
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import mysql from 'mysql2/promise'
import { createClient } from 'redis'
import { loadConfig } from '../src/config/index.ts'
import { startLocalKafka, stopLocalKafka } from '../src/kafka/local/index.ts'
import { createLogger } from '../src/logging/index.ts'
import { openPipeline, Processor } from '../src/processor/index.ts'
import { Streams } from '../src/events/index.ts'
import { MysqlPredictionStore, type PredictionRow } from '../src/sql/index.ts'

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '500000' },
    backlog: { type: 'string', default: '5000000' },
    'seed-style': { type: 'string', default: '5000' },
    only: { type: 'string', default: '0,1,2,3,4,5,6' },
    port: { type: 'string', default: '21994' },
    'api-port': { type: 'string', default: '5078' },
    'backlog-batch-size': { type: 'string', default: '5000' }
  }
})
const events = Number(values.events)
const only = new Set(values.only.split(','))
const port = Number(values.port)
const broker = `127.0.0.1:${port}`
const apiUrl = `http://127.0.0.1:${values['api-port']}`
const database = 'churnflow_bench'
const databaseUrl = `mysql://root@127.0.0.1:3306/${database}`
const bin = 'bin/churnflow.js'

function run (args: string[], env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, KAFKA_BROKER: broker, LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d: Buffer) => { out += d.toString('utf8') })
    child.stderr.on('data', (d: Buffer) => { out += d.toString('utf8') })
    child.on('error', reject)
    child.on('close', code => { if (code === 0) resolve(out); else reject(new Error(`churnflow ${args.join(' ')} exited ${String(code)}:\n${out.slice(-3000)}`)) })
  })
}

function start (args: string[], env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, [bin, ...args], { env: { ...process.env, KAFKA_BROKER: broker, LOG_LEVEL: 'warn', ...env }, stdio: 'ignore' })
}

const figure = (out: string, pattern: RegExp): number => Number(pattern.exec(out)?.[1] ?? NaN)

async function produce (topic: string, count: number, extra: string[] = []): Promise<void> {
  await run(['produce', '--rate', 'max', '--count', String(count), '--seed', '1', '--users', '100000', '--topic', topic, '--partitions', '6', ...extra], { LOG_LEVEL: 'warn' })
}

async function rowsIn (table: string): Promise<number> {
  const c = await mysql.createConnection({ uri: databaseUrl })
  try {
    const [rows] = await c.query(`SELECT COUNT(*) AS n FROM \`${table}\``)
    return Number((rows as { n: number }[])[0]?.n ?? 0)
  } finally { await c.end() }
}

/** Drains `topic` with `churnflow process` and reads its PROCESSING STATISTICS. */
async function drain (name: string, topic: string, expected: number, env: Record<string, string>): Promise<{ rate: number, seconds: number, rss: number }> {
  const table = `bench_${name}`
  const out = await run(['process', '--streams', 'user-events', '--exit-when-idle', '2', '--table', table], {
    KAFKA_TOPIC: topic, KAFKA_GROUP_ID: `bench-${name}-${Date.now()}`, DATABASE_URL: databaseUrl, OPS_PORT: '0',
    CHURNFLOW_STATE_DIR: join(stateDir, name), BATCH_SIZE: '5000', KAFKA_TOPIC_CHURN_PREDICTIONS: `${topic}-pred`, KAFKA_TOPIC_CHURN_ALERTS: `${topic}-alerts`, ...env
  })
  const rows = await rowsIn(table)
  if (rows !== expected) throw new Error(`${name}: ${rows} rows for ${expected} events`)
  return { rate: figure(out, /Processing: [\d.]+ seconds, (\d+) events\/second/), seconds: figure(out, /Processing: ([\d.]+) seconds/), rss: figure(out, /Peak memory \(RSS\): (\d+) MB/) }
}

/** CPU seconds the local mariadbd has used, or undefined when there is none to read (a remote server). */
function mariadbCpu (): number | undefined {
  try {
    const pids = execFileSync('pgrep', ['-x', 'mariadbd'], { encoding: 'utf8' }).trim().split('\n')
    let ticks = 0
    // /proc/<pid>/stat: utime and stime are fields 14 and 15, in clock ticks (100 a second on Linux).
    for (const pid of pids) {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')
      ticks += Number(fields[11]) + Number(fields[12])
    }
    return ticks / 100
  } catch {
    return undefined
  }
}

/**
 * Case 0: rows shaped as the drains' (100,000 customers, the e-commerce event producer's event types, metadata as the
 * events carry it) inserted through the processor's store, `inFlight` batches of `batchSize` at a time.
 */
async function databaseAlone (count: number, batchSize: number, inFlight: number): Promise<{ rate: number, cpuPerRow: number | undefined }> {
  const table = `bench_alone_${inFlight}`
  const store = new MysqlPredictionStore({ host: '127.0.0.1', port: 3306, user: 'root', password: '', database, table })
  try {
    await store.ensureTable()
    const types = ['page_view', 'product_view', 'add_to_cart', 'search', 'purchase', 'bounce']
    const start = Date.now() - 3_600_000
    const batches: PredictionRow[][] = []
    for (let b = 0; b * batchSize < count; b++) {
      const rows: PredictionRow[] = []
      for (let n = b * batchSize; n < Math.min(count, (b + 1) * batchSize); n++) {
        rows.push({
          userId: String(1 + (n * 7919) % 100_000), eventType: types[n % types.length] as string, churnScore: ((n * 2654435761) % 10_000) / 10_000,
          eventTime: start + n, predictionTime: start + n + 5, metadata: `{"product_id":${n % 200},"session_length":${(n % 3000) / 100}}`,
          topic: 'bench-alone', partition: n % 6, offset: BigInt(Math.floor(n / 6))
        })
      }
      batches.push(rows)
    }
    const cpu0 = mariadbCpu()
    const t = performance.now()
    let next = 0
    await Promise.all(Array.from({ length: inFlight }, async () => {
      while (next < batches.length) await store.insert(batches[next++] as PredictionRow[])
    }))
    const seconds = (performance.now() - t) / 1000
    const cpu1 = mariadbCpu()
    if (await rowsIn(table) !== count) throw new Error(`database alone: ${await rowsIn(table)} rows for ${count}`)
    return { rate: Math.round(count / seconds), cpuPerRow: cpu0 === undefined || cpu1 === undefined ? undefined : (cpu1 - cpu0) / count * 1e6 }
  } finally {
    await store.close()
  }
}

const log = createLogger({ level: 'warn', format: 'text' })
const stateDir = await mkdtemp(join(tmpdir(), 'churnflow-bench-processor-'))
const admin = await mysql.createConnection({ uri: 'mysql://root@127.0.0.1:3306/' })
await admin.query(`DROP DATABASE IF EXISTS ${database}`)
await admin.query(`CREATE DATABASE ${database}`)
await admin.end()
const redis = createClient({ socket: { host: '127.0.0.1', port: 6379 } })
await redis.connect()
const prefix = `bench:${Date.now()}:`
const { config: kconfig } = loadConfig({ env: { ...process.env, KAFKA_BROKER: broker }, envFile: false })
await startLocalKafka({ stateDir: join(stateDir, 'kafka'), cacheDir: kconfig.cacheDir, log, env: process.env, brokerPort: port })
let api: ChildProcess | undefined
const lines: string[] = []
const say = (line: string): void => { lines.push(line); console.log(line) }
try {
  say(`churn processor, ${events} e-commerce-producer user-events (100,000 users, every event scored) already in Kafka (6 partitions), drained into MariaDB, BATCH_SIZE 5000`)
  if (only.has('0')) {
    // Before anything is produced: the broker is idle and nothing else competes for the cores.
    for (const inFlight of [1, 2]) {
      const r = await databaseAlone(events, 5000, inFlight)
      say(`  0. MariaDB alone, ${events} rows in batches of 5000, ${inFlight} batch${inFlight === 1 ? ' at a time (as the processor writes)' : 'es at a time'}: ${r.rate} rows/s` +
        (r.cpuPerRow === undefined ? '' : ` (mariadbd CPU ${r.cpuPerRow.toFixed(1)} µs/row)`))
    }
  }
  if (only.has('1') || only.has('2') || only.has('3')) await produce('bench-events', events)
  let batchRate = NaN
  if (only.has('1')) {
    const r = await drain('inprocess', 'bench-events', events, {})
    say(`  1. in-process model and profiles:  ${r.rate} events/s (${r.seconds} s, peak RSS ${r.rss} MB; target >= 50,000)`)
  }
  if (only.has('2')) {
    const r = await drain('redis', 'bench-events', events, { REDIS_HOST: '127.0.0.1', REDIS_KEY_PREFIX: prefix })
    say(`  2. Redis profiles:                  ${r.rate} events/s (${r.seconds} s; target >= 20,000)`)
  }
  if (only.has('3') || only.has('4')) {
    api = start(['api', '--port', values['api-port']], {})
    for (let i = 0; i < 100; i++) {
      if (await fetch(`${apiUrl}/health`).then(r => r.ok, () => false)) break
      await new Promise(resolve => setTimeout(resolve, 200))
    }
  }
  if (only.has('3')) {
    const r = await drain('http', 'bench-events', events, { FLASK_API_URL: apiUrl })
    batchRate = r.rate
    say(`  3. scoring API, batch route:        ${r.rate} events/s (${r.seconds} s; target >= 15,000)`)
  }
  if (only.has('4')) {
    const n = Number(values['seed-style'])
    await produce('bench-seed-style', n)
    const r = await drain('seedstyle', 'bench-seed-style', n, { FLASK_API_URL: apiUrl, BATCH_SIZE: '1' })
    say(`  4. the original consumer's style, one event at a time (BATCH_SIZE=1: one HTTP call, one INSERT, one commit each; ${n} events): ${r.rate} events/s`)
    if (Number.isFinite(batchRate)) say(`     ratio of 3 to 4: ${(batchRate / r.rate).toFixed(1)}x`)
  }
  if (only.has('5')) {
    // The processor runs here, in this process, so the time each batch's rows are committed is seen exactly.
    const { config } = loadConfig({
      env: { ...process.env, KAFKA_BROKER: broker, KAFKA_TOPIC: 'bench-steady', KAFKA_GROUP_ID: `bench-steady-${Date.now()}`, DATABASE_URL: databaseUrl, CHURNFLOW_STATE_DIR: join(stateDir, 'steady'), LOG_LEVEL: 'warn', KAFKA_TOPIC_CHURN_PREDICTIONS: 'bench-steady-pred', KAFKA_TOPIC_CHURN_ALERTS: 'bench-steady-alerts' },
      envFile: false
    })
    const plog = createLogger({ level: 'warn', format: 'text' })
    const parts = await openPipeline(config, plog, { table: 'bench_steady' })
    const latencies: number[] = []
    let warm = false
    const processor = new Processor({
      config, log: plog, streams: [Streams.USER_EVENTS], profiles: parts.profiles, predictions: parts.predictions, scorer: parts.scorer,
      alerts: parts.alerts, scoredCustomerTypes: parts.scoredCustomerTypes, silence: parts.silence, batchSize: 5000,
      onProcessed: (records, at) => { if (warm) for (const r of records) latencies.push(at - r.timestamp) }
    })
    const running = processor.run()
    await new Promise(resolve => setTimeout(resolve, 3000))
    const producer = run(['produce', '--rate', '5000', '--duration', '40', '--seed', '2', '--users', '100000', '--topic', 'bench-steady', '--partitions', '6'], {})
    await new Promise(resolve => setTimeout(resolve, 5000))
    warm = true
    await producer
    await new Promise(resolve => setTimeout(resolve, 2000))
    processor.stop()
    await running
    await parts.close()
    latencies.sort((a, b) => a - b)
    const q = (p: number): number => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN
    say(`  5. steady 5,000 events/s for 40 s (${latencies.length} events after a 5 s warm-up), event timestamp -> committed row: p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${q(1)} ms (target p99 <= 100 ms)`)
  }
  if (only.has('6')) {
    const backlog = Number(values.backlog)
    await produce('bench-backlog', backlog)
    const batchSize = values['backlog-batch-size']
    const r = await drain('backlog', 'bench-backlog', backlog, { BATCH_SIZE: batchSize })
    say(`  6. backlog of ${backlog} events, in-process, BATCH_SIZE ${batchSize}: ${r.rate} events/s (${r.seconds} s), peak RSS ${r.rss} MB (target <= 400 MB)`)
  }
} finally {
  api?.kill('SIGINT')
  for await (const keys of redis.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) if (keys.length > 0) await redis.del(keys)
  await redis.close()
  await stopLocalKafka({ stateDir: join(stateDir, 'kafka'), log })
  await rm(stateDir, { recursive: true, force: true })
}
