// The dashboard's queries on a large churn_predictions table: fills a table with --rows rows
// (default 1,000,000) through the processor's own insert path (LOAD DATA LOCAL on MariaDB, batched
// INSERTs in transactions on PostgreSQL and SQLite) into the table a processor creates, with the
// indexes of its spec (the dashboard's among them), then times each view's data (median and slowest of --runs runs).
// Target: every view within 200 ms. The `processor` backend times the at-risk list the dashboard
// reads from a processor instead: its /customers/at-risk over --customers customers held in process
// (the TopK pass), directly and through HTTP as the dashboard asks for it.
//
// With --write-cost it measures instead what the spec's three dashboard indexes cost the processor's
// inserts: --rows rows in the processor's batches of 5,000 into two tables, one with the spec's
// indexes and one with the original consumer's four only, the two alternating batch by batch (so a
// swing in the machine's speed falls on both), and prints each one's rows/s and their ratio.
//
//   npm run bench:dashboard -- [--backend=processor,sqlite,mariadb,postgres] [--rows=1000000] [--customers=1000000] [--runs=7] [--keep] [--write-cost]
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
import { openSqlReader, readClock, predictionsPerMinute, highRiskOverTime, scoreDistribution, atRisk, customerPredictions, predictionsAfter, type SqlReader } from '../src/dashboard/index.ts'
import { churnPredictionsTable, MysqlPredictionStore, openTableStore, PostgresPredictionStore, SqlitePredictionStore, type PredictionRow, type PredictionStore, type SqlConnection, type TableStore } from '../src/sql/index.ts'
import { syntheticPredictions } from '../test/helpers/dashboard.ts'

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'processor,sqlite,mariadb,postgres' },
    rows: { type: 'string', default: '1000000' },
    customers: { type: 'string', default: '1000000' },
    runs: { type: 'string', default: '7' },
    keep: { type: 'boolean', default: false },
    'write-cost': { type: 'boolean', default: false }
  }
})
const rows = Number(values.rows)
const runs = Number(values.runs)
const table = 'bench_dashboard_predictions'

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

/** The spec's indexes beside the original four, batch by batch into two tables of one database. */
async function measureWriteCost (backend: Backend): Promise<void> {
  const original = { ...churnPredictionsTable, indexes: churnPredictionsTable.indexes.slice(0, 4) }
  const sides = [
    { name: 'the spec\'s indexes', spec: churnPredictionsTable, table: `${table}_spec` },
    { name: 'the original four', spec: original, table: `${table}_orig` }
  ]
  await backend.drop()
  const admin = openSqlReader(connection(backend.url), { readOnly: false })
  const stores: TableStore<PredictionRow>[] = []
  for (const side of sides) {
    await admin.all(`DROP TABLE IF EXISTS ${side.table}`)
    const store = openTableStore(connection(backend.url), side.spec, { table: side.table })
    await store.ensureTable()
    stores.push(store)
  }
  const batch = 5000
  const start = Date.now() - 30 * 86_400_000
  const all = syntheticPredictions({ count: rows, customers: 50_000, days: 30, end: Date.now(), seed: 1 })
    .map((r, i) => ({ ...r, eventTime: start + Math.floor((i / rows) * 30 * 86_400_000), predictionTime: start + Math.floor((i / rows) * 30 * 86_400_000) + 50 }))
  const timed = stores.map(store => ({ store, ms: 0 }))
  for (let first = 0, n = 0; first < rows; first += batch, n++) {
    const rowsNow = all.slice(first, first + batch)
    for (const side of n % 2 === 0 ? timed : [...timed].reverse()) {
      const t = performance.now()
      await side.store.insert(rowsNow)
      side.ms += performance.now() - t
    }
  }
  const rates = timed.map(side => rows / (side.ms / 1000))
  process.stdout.write(`\n${backend.name}, ${rows.toLocaleString('en-US')} rows into each table, batches of ${batch} alternating:\n`)
  sides.forEach((side, i) => { process.stdout.write(`  ${side.name.padEnd(24)} ${Math.round(rates[i] ?? 0).toLocaleString('en-US').padStart(8)} rows/s\n`) })
  process.stdout.write(`  ratio ${((rates[0] ?? 0) / (rates[1] ?? 1)).toFixed(2)}\n`)
  for (const store of stores) await store.close()
  if (values.keep !== true) for (const side of sides) await admin.all(`DROP TABLE IF EXISTS ${side.table}`)
  await admin.close()
}

if (values['write-cost']) {
  for (const backend of backends().filter(b => values.backend.split(',').includes(b.name))) await measureWriteCost(backend)
  process.exit(0)
}

if (values.backend.split(',').includes('processor')) await measureProcessor(Number(values.customers))

for (const backend of backends().filter(b => values.backend.split(',').includes(b.name))) {
  process.stdout.write(`\n${backend.name}: filling ${rows.toLocaleString('en-US')} rows... `)
  const seconds = await fill(backend)
  process.stdout.write(`${seconds.toFixed(1)} s (${Math.round(rows / seconds).toLocaleString('en-US')} rows/s)\n`)
  const writer = openSqlReader(connection(backend.url), { readOnly: false })
  const t = performance.now()
  // A table that grew to a million rows over time has planner statistics (PostgreSQL's autovacuum,
  // InnoDB's persistent statistics); one filled in a minute must be told, or plans are guessed.
  await writer.all(backend.name === 'mariadb' ? `ANALYZE TABLE ${table}` : `ANALYZE ${table}`)
  process.stdout.write(`  statistics taken in ${((performance.now() - t) / 1000).toFixed(1)} s\n`)
  await writer.close()
  const db = openSqlReader(connection(backend.url))
  for (const [name, r] of await measure(db)) report(name, r)
  await db.close()
  if (values.keep !== true) await backend.drop()
}
