// The dashboard's queries on a large churn_predictions table: fills a table with --rows rows
// (default 1,000,000) through the processor's own insert path (LOAD DATA LOCAL on MariaDB, batched
// INSERTs in transactions on PostgreSQL and SQLite), creates the dashboard's indexes as the
// dashboard does at start, then times each view's data (median and slowest of --runs runs).
// Target: every view within 200 ms. The `processor` backend times the at-risk list the dashboard
// reads from a processor instead: its /customers/at-risk over --customers customers held in process
// (the TopK pass), directly and through HTTP as the dashboard asks for it.
//
//   npm run bench:dashboard -- [--backend=processor,sqlite,mariadb,postgres] [--rows=1000000] [--customers=1000000] [--runs=7] [--keep]
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import mysql from 'mysql2/promise'
import pg from 'pg'
import Fastify from 'fastify'
import { customerRoutes } from '../src/api/customer-routes.ts'
import { defaultBands } from '../src/churn/index.ts'
import { CustomerReader } from '../src/processor/index.ts'
import { emptyProfile, MemoryProfileStore, RiskTriggers } from '../src/profile/index.ts'
import { processorsAtRisk } from '../src/dashboard/index.ts'
import { random } from '../test/helpers/dashboard.ts'
import { ensureDashboardIndexes, openSqlReader, readClock, predictionsPerMinute, highRiskOverTime, scoreDistribution, atRisk, customerPredictions, predictionsAfter, type SqlReader } from '../src/dashboard/index.ts'
import { MysqlPredictionStore, PostgresPredictionStore, SqlitePredictionStore, type PredictionStore, type SqlConnection } from '../src/sql/index.ts'
import { syntheticPredictions } from '../test/helpers/dashboard.ts'

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'processor,sqlite,mariadb,postgres' },
    rows: { type: 'string', default: '1000000' },
    customers: { type: 'string', default: '1000000' },
    runs: { type: 'string', default: '7' },
    keep: { type: 'boolean', default: false }
  }
})
const rows = Number(values.rows)
const runs = Number(values.runs)
const table = 'bench_dashboard_predictions'
const fraudTables = { fraudTransactions: 'bench_dashboard_fraud_tx', fraudPredictions: 'bench_dashboard_fraud_pred' }

interface Backend { name: string, url: string, store: () => PredictionStore, drop: () => Promise<void> }

function backends (): Backend[] {
  const dir = mkdtempSync(join(tmpdir(), 'churnflow-bench-dashboard-'))
  const sqlitePath = join(dir, 'bench.db')
  const mariadb = 'mysql://root@127.0.0.1:3306/churnflow_bench_dashboard'
  const postgres = 'postgres://postgres@127.0.0.1:5432/postgres'
  return [
    { name: 'sqlite', url: `sqlite:${sqlitePath}`, store: () => new SqlitePredictionStore({ path: sqlitePath, table }), drop: async () => { rmSync(dir, { recursive: true, force: true }) } },
    {
      name: 'mariadb',
      url: mariadb,
      store: () => new MysqlPredictionStore({ host: '127.0.0.1', database: 'churnflow_bench_dashboard', table }),
      drop: async () => {
        const c = await mysql.createConnection({ uri: 'mysql://root@127.0.0.1:3306/' })
        await c.query('CREATE DATABASE IF NOT EXISTS churnflow_bench_dashboard')
        await c.query(`DROP TABLE IF EXISTS churnflow_bench_dashboard.${table}`)
        await c.end()
      }
    },
    {
      name: 'postgres',
      url: postgres,
      store: () => new PostgresPredictionStore({ url: postgres, table }),
      drop: async () => {
        const c = new pg.Client({ connectionString: postgres })
        await c.connect()
        await c.query(`DROP TABLE IF EXISTS ${table}`)
        await c.end()
      }
    }
  ]
}

async function fill (backend: Backend): Promise<number> {
  await backend.drop()
  const store = backend.store()
  const started = performance.now()
  await store.ensureTable()
  const chunk = 50_000
  for (let first = 0; first < rows; first += chunk) {
    await store.insert(syntheticPredictions({ count: Math.min(chunk, rows - first), customers: 50_000, days: 30, end: Date.now(), seed: first + 1, first }).map((r, i) => {
      // One history in event order across the chunks, as a processor writes it.
      const eventTime = Date.now() - 30 * 86_400_000 + Math.floor(((first + i) / rows) * 30 * 86_400_000)
      return { ...r, eventTime, predictionTime: eventTime + 50 }
    }))
  }
  await store.close()
  return (performance.now() - started) / 1000
}

async function time (what: () => Promise<unknown>): Promise<{ median: number, max: number }> {
  const times: number[] = []
  await what()
  for (let i = 0; i < runs; i++) {
    const t = performance.now()
    await what()
    times.push(performance.now() - t)
  }
  times.sort((a, b) => a - b)
  return { median: times[Math.floor(times.length / 2)] ?? NaN, max: times.at(-1) ?? NaN }
}

async function measure (db: SqlReader): Promise<[string, { median: number, max: number }][]> {
  const bands = defaultBands
  const clock = await readClock(db, table)
  const views: [string, () => Promise<unknown>][] = [
    ['clock (newest id and times)', () => readClock(db, table)],
    ['overview: predictions per minute', () => predictionsPerMinute(db, table, clock)],
    ['overview: high-risk customers per hour', () => highRiskOverTime(db, table, clock, 0.6)],
    ['churn: score distribution and streams', () => scoreDistribution(db, table, clock)],
    ['churn: at-risk list (50)', () => atRisk(db, table, bands, clock, { limit: 50 })],
    ['churn: at-risk, band medium', () => atRisk(db, table, bands, clock, { limit: 50, band: 'medium' })],
    ['churn: at-risk, segment new', () => atRisk(db, table, bands, clock, { limit: 50, segment: 'new' })],
    // 30 days of history: hardly anyone is 1 to 6 months old, so the window widens to the table.
    ['churn: at-risk, segment 1-6 months (rare)', () => atRisk(db, table, bands, clock, { limit: 50, segment: '1-6-months' })],
    ['customer page', () => customerPredictions(db, table, bands, 'cust-4242', 500)],
    ['live feed (after newest-200)', () => predictionsAfter(db, table, bands, clock.maxId - 200, 200)]
  ]
  const out: [string, { median: number, max: number }][] = []
  for (const [name, run] of views) out.push([name, await time(run)])
  const whole = async (): Promise<void> => {
    const c = await readClock(db, table)
    await Promise.all([predictionsPerMinute(db, table, c), highRiskOverTime(db, table, c, 0.6)])
  }
  out.push(['= overview view (SQL part, all together)', await time(whole)])
  out.push(['= churn view (all together)', await time(async () => {
    const c = await readClock(db, table)
    await Promise.all([scoreDistribution(db, table, c), atRisk(db, table, bands, c, { limit: 50 })])
  })])
  return out
}

const connection = (databaseUrl: string): SqlConnection => ({ databaseUrl, dbHost: undefined, dbPort: 3306, dbUser: 'root', dbPassword: '', dbName: 'churn_db', stateDir: tmpdir() })

/** The processor's at-risk route over `count` customers held in process, as the dashboard reads it. */
async function measureProcessor (count: number): Promise<void> {
  process.stdout.write(`\nprocessor: holding ${count.toLocaleString('en-US')} scored customers in process... `)
  const started = performance.now()
  const store = new MemoryProfileStore()
  const rnd = random(3)
  const now = Date.now()
  const day = 86_400_000
  for (let i = 0; i < count; i++) {
    const profile = emptyProfile()
    profile.firstSeen = now - Math.floor(rnd() * 700) * day
    profile.lastSeen = now - Math.floor(rnd() * 40) * day
    profile.events = 1
    const score = Math.round(rnd() ** 2 * 10000) / 10000
    const band = [...defaultBands].reverse().find(b => score >= b.from)?.name ?? 'low'
    const reasons = [{ feature: 'days_since_last', value: 3, impact: 0.2 }]
    store.set(`cust-${i}`, { profile, offsets: { 'user-events:0': i }, alert: { high: false, lastAt: 0 }, risk: { score, band, modelVersion: 'bench', at: profile.lastSeen, trigger: RiskTriggers.EVENT, reasons }, version: 1 })
  }
  process.stdout.write(`${((performance.now() - started) / 1000).toFixed(1)} s\n`)
  const reader = new CustomerReader({ profiles: store, bands: () => defaultBands, now: () => now })
  const app = Fastify()
  void app.register(customerRoutes, { customers: reader })
  const url = await app.listen({ host: '127.0.0.1', port: 0 })
  const views: [string, () => Promise<unknown>][] = [
    ['at-risk (50), in process', () => reader.atRisk({ limit: 50 })],
    ['at-risk, band high, in process', () => reader.atRisk({ limit: 50, band: 'high' })],
    ['at-risk, segment 6-12 months, in process', () => reader.atRisk({ limit: 50, segment: '6-12-months' })],
    ['at-risk (50), the dashboard over HTTP', () => processorsAtRisk([url], { limit: 50 })],
    ['at-risk (500), segment, over HTTP', () => processorsAtRisk([url], { limit: 500, segment: 'new' })]
  ]
  for (const [name, run] of views) report(name, await time(run))
  await app.close()
}

function report (name: string, r: { median: number, max: number }): void {
  process.stdout.write(`  ${name.padEnd(44)} median ${r.median.toFixed(1).padStart(7)} ms   max ${r.max.toFixed(1).padStart(7)} ms ${r.max > 200 ? '  OVER 200 ms' : ''}\n`)
}

if (values.backend.split(',').includes('processor')) await measureProcessor(Number(values.customers))

for (const backend of backends().filter(b => values.backend.split(',').includes(b.name))) {
  process.stdout.write(`\n${backend.name}: filling ${rows.toLocaleString('en-US')} rows... `)
  const seconds = await fill(backend)
  process.stdout.write(`${seconds.toFixed(1)} s (${Math.round(rows / seconds).toLocaleString('en-US')} rows/s)\n`)
  const writer = openSqlReader(connection(backend.url), { readOnly: false })
  const t = performance.now()
  await ensureDashboardIndexes(writer, { predictions: table, ...fraudTables })
  // A table that grew to a million rows over time has planner statistics (PostgreSQL's autovacuum,
  // InnoDB's persistent statistics); one filled in a minute must be told, or plans are guessed.
  await writer.all(backend.name === 'mariadb' ? `ANALYZE TABLE ${table}` : `ANALYZE ${table}`)
  process.stdout.write(`  dashboard indexes created and statistics taken in ${((performance.now() - t) / 1000).toFixed(1)} s\n`)
  await writer.close()
  const db = openSqlReader(connection(backend.url))
  for (const [name, r] of await measure(db)) report(name, r)
  await db.close()
  if (values.keep !== true) await backend.drop()
}
