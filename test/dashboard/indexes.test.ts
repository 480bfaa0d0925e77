import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { defaultDashboardTables, missingForDashboard } from '../../src/dashboard/index.ts'
import { churnPredictionsTable, fraudMigrations, migrate, openPredictionStore, openTableStore, type SqlConnection } from '../../src/sql/index.ts'
import { cli } from '../helpers/services.ts'

const connection = (databaseUrl: string): SqlConnection => ({ databaseUrl, dbHost: undefined, dbPort: 3306, dbUser: 'root', dbPassword: '', dbName: 'churn_db', stateDir: tmpdir() })

test('the dashboard names what an older database lacks for its views, and creates none of it', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'churnflow-dashboard-indexes-'))
  t.after(() => { rmSync(dir, { recursive: true, force: true }) })
  const path = join(dir, 'churnflow.db')
  const sql = connection(`sqlite:${path}`)
  assert.deepEqual(await missingForDashboard(sql, defaultDashboardTables), [], 'nothing there yet: nothing to say')

  // The churn prediction consumer's own table, as it created it, and the fraud tables of 001 only.
  const db = new DatabaseSync(path)
  db.exec(`CREATE TABLE churn_predictions (id INTEGER PRIMARY KEY AUTOINCREMENT, user_id TEXT NOT NULL, event_type TEXT NOT NULL,
    churn_score REAL NOT NULL, event_timestamp TEXT NOT NULL, prediction_timestamp TEXT NOT NULL, metadata TEXT, kafka_partition INTEGER, kafka_offset INTEGER);
    CREATE INDEX idx_user_id ON churn_predictions (user_id); CREATE INDEX idx_churn_score ON churn_predictions (churn_score)`)
  const [first, ...rest] = Object.keys(fraudMigrations('sqlite'))
  await migrate(sql, { to: first! })
  const indexes = (): number => Number(db.prepare("SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'index'").get()?.n)
  const before = indexes()

  const lines = await missingForDashboard(sql, defaultDashboardTables)
  assert.equal(lines.length, 2, lines.join('\n'))
  assert.match(lines[0]!, /^churn_predictions lacks .*idx_prediction_timestamp \(prediction_timestamp\).*idx_event_score_user \(event_timestamp, churn_score, user_id\)/)
  assert.doesNotMatch(lines[0]!, /idx_user_id_id/, 'idx_user_id with the rowid serves (user_id, id)')
  assert.equal(lines[1], `the fraud tables lack ${rest.length} migration(s) (${rest.join(', ')})`)
  assert.equal(indexes(), before, 'looking created nothing')

  // What `churnflow db migrate` and a processor's start do.
  await migrate(sql)
  await using store = openPredictionStore(sql)
  await store.ensureTable()
  assert.deepEqual(await missingForDashboard(sql, defaultDashboardTables), [])
  db.close()
})

test('churnflow doctor warns of a churn_predictions table without the dashboard\'s indexes, and db migrate adds them', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'churnflow-doctor-indexes-'))
  t.after(() => { rmSync(dir, { recursive: true, force: true }) })
  // A table as churnflow made it before the dashboard's indexes joined the spec.
  const sql = connection(`sqlite:${join(dir, 'churnflow.db')}`)
  const before = openTableStore(sql, { ...churnPredictionsTable, indexes: churnPredictionsTable.indexes.slice(0, 4) })
  await before.ensureTable()
  await before.close()
  const env = { CHURNFLOW_STATE_DIR: dir, KAFKA_BROKER: '127.0.0.1:1', LOG_LEVEL: 'warn' }
  const doctor = await cli(['doctor'], env, 60_000)
  assert.match(doctor.stdout, /⚠️ +table churn_predictions lacks 2 index\(es\) the dashboard reads \(idx_prediction_timestamp, idx_event_score_user\)\n {3}fix: churnflow db migrate adds them/)
  const migrated = await cli(['db', 'migrate'], env, 60_000)
  assert.equal(migrated.code, 0, migrated.stderr)
  assert.match(migrated.stdout, /^churn_predictions: added the index idx_prediction_timestamp \(prediction_timestamp\)\nchurn_predictions: added the index idx_event_score_user \(event_timestamp, churn_score, user_id\)$/m)
  const status = await cli(['db', 'status'], env, 60_000)
  assert.match(status.stdout, /^churn_predictions: ready$/m)
})
