// The dashboard's queries on a large churn_predictions table: fills a table with --rows rows
// (default 1,000,000) through the processor's own insert path (LOAD DATA LOCAL on MariaDB, batched
// INSERTs in transactions on PostgreSQL and SQLite), creates the dashboard's indexes as the
// dashboard does at start, then times each view's data (median and slowest of --runs runs).
// Target: every view within 200 ms.
//
//   npm run bench:dashboard -- [--backend=sqlite,mariadb,postgres] [--rows=1000000] [--runs=7] [--keep]
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import mysql from 'mysql2/promise'
import pg from 'pg'
import { defaultBands } from '../src/churn/index.ts'
import { ensureDashboardIndexes, openSqlReader, readClock, predictionsPerMinute, highRiskOverTime, scoreDistribution, atRisk, customerPredictions, predictionsAfter, type SqlReader } from '../src/dashboard/index.ts'
import { MysqlPredictionStore, PostgresPredictionStore, SqlitePredictionStore, type PredictionStore, type SqlConnection } from '../src/sql/index.ts'
import { syntheticPredictions } from '../test/helpers/dashboard.ts'

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'sqlite,mariadb,postgres' },
    rows: { type: 'string', default: '1000000' },
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
    ['churn: score distribution and segments', () => scoreDistribution(db, table, clock)],
    ['churn: at-risk list (50)', () => atRisk(db, table, bands, clock, { limit: 50 })],
    ['churn: at-risk, band medium', () => atRisk(db, table, bands, clock, { limit: 50, band: 'medium' })],
    ['churn: at-risk, segment (tenure 1-6 months)', () => atRisk(db, table, bands, clock, { limit: 50, segment: '1-6-months' })],
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
  for (const [name, r] of await measure(db)) {
    process.stdout.write(`  ${name.padEnd(44)} median ${r.median.toFixed(1).padStart(7)} ms   max ${r.max.toFixed(1).padStart(7)} ms ${r.max > 200 ? '  OVER 200 ms' : ''}\n`)
  }
  await db.close()
  if (values.keep !== true) await backend.drop()
}
