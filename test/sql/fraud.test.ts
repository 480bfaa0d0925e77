import assert from 'node:assert/strict'
import { test } from 'node:test'
import { NO_MIGRATIONS } from 'kysely'
import type { Config } from '../../src/config/index.ts'
import { ChurnflowError, ErrorCodes } from '../../src/errors.ts'
import { FraudLabels, type FraudLabel, type FraudPredictionRow, type TransactionRow } from '../../src/fraud/rows.ts'
import {
  fraudMigrations, fraudPredictionsTable, migrate, migrateAtStart, migrationStatus, openFraudStore, transactionsTable,
  type SqlConnection
} from '../../src/sql/index.ts'
import { createPgPool } from '../../src/sql/postgres/driver.ts'
import { freePort } from '../helpers/ports.ts'
import { cli, TcpProxy } from '../helpers/services.ts'
import { freshDatabase, type FreshDatabase } from '../helpers/sql.ts'
import { runTogether, type TogetherResult } from '../helpers/together.ts'

// Anything that used the machine's local time instead of UTC would now be five hours off.
process.env.TZ = 'America/New_York'

const backends = ['mariadb', 'postgres', 'sqlite'] as const
const latest = Object.keys(fraudMigrations('postgres'))
const first = latest[0] as string

function connection (url: string): SqlConnection {
  return { databaseUrl: url, dbHost: undefined, dbPort: 3306, dbUser: 'root', dbPassword: '', dbName: 'churn_db', stateDir: '/nonexistent' }
}

/** Transactions `from` to `to - 1`, and a prediction for each read at offset = its number. */
function batch (from: number, to: number, at = Date.now() - 60_000): { transactions: TransactionRow[], predictions: FraudPredictionRow[] } {
  const transactions: TransactionRow[] = []
  const predictions: FraudPredictionRow[] = []
  for (let n = from; n < to; n++) {
    const id = `tx-${n}`
    transactions.push({
      transactionId: id, accountId: `acct-${n % 7}`, cardId: n % 3 === 0 ? null : `card-${n}`, amount: 10 + n / 4,
      currency: 'EUR', merchantId: `m-${n % 11}`, merchantCategory: 'electronics', channel: 'online', country: 'DE',
      eventTime: at + n, extra: n % 2 === 0 ? null : `{"device":"d-${n}","note":"tab\\there"}`
    })
    const fraud = n % 5 === 0
    predictions.push({
      transactionId: id, fraudScore: fraud ? 0.9 : 0.1, prediction: fraud ? FraudLabels.FRAUD : FraudLabels.LEGIT,
      modelVersion: 'fraud-test-1', reasons: '["amount_vs_habit","new_country"]', topic: 'transactions', partition: n % 3,
      offset: 9_007_199_254_740_993n + BigInt(n)
    })
  }
  return { transactions, predictions }
}

async function count (db: FreshDatabase, table: string): Promise<number> {
  return Number((await db.query(`SELECT COUNT(*) AS n FROM ${table}`))[0]?.n)
}

/** The table's indexes by name, from the database's catalogue. */
async function indexesOf (db: FreshDatabase, table: string): Promise<string[]> {
  const sql = {
    sqlite: `SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = '${table}'`,
    postgres: `SELECT indexname AS name FROM pg_indexes WHERE tablename = '${table}'`,
    mariadb: `SELECT DISTINCT INDEX_NAME AS name FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '${table}'`
  }[db.backend]
  return (await db.query(sql)).map(r => String(r.name)).sort()
}

/** Ids stored more than once in the table (none, when writes are idempotent). */
async function duplicates (db: FreshDatabase, table: string): Promise<number> {
  return (await db.query(`SELECT transaction_id FROM ${table} GROUP BY transaction_id HAVING COUNT(*) > 1`)).length
}

for (const backend of backends) {
  test(`${backend}: migrations are idempotent and create every column the writer fills`, async t => {
    const db = await freshDatabase(t, backend)
    if (db === undefined) return
    assert.deepEqual((await migrationStatus(connection(db.url))).map(m => m.executedAt), latest.map(() => undefined))
    assert.deepEqual(await migrate(connection(db.url)), latest)
    assert.deepEqual(await migrate(connection(db.url)), [], 'a second run applies nothing')
    const status = await migrationStatus(connection(db.url))
    assert.deepEqual(status.map(m => m.name), latest)
    assert.ok(status.every(m => m.executedAt instanceof Date))
    for (const spec of [transactionsTable, fraudPredictionsTable]) {
      // Fails with "no such column" when a spec names a column the migrations did not create.
      await db.query(`SELECT ${spec.columns.map(c => c.name).join(', ')}, created_at FROM ${spec.name} WHERE 1 = 0`)
    }
    assert.deepEqual((await indexesOf(db, 'predictions')).filter(name => name.endsWith('_idx')), ['predictions_created_at_idx', 'predictions_prediction_created_at_idx'],
      'the dashboard\'s reads have their indexes (001, 003)')
  })

  test(`${backend}: two migrators started at the same moment apply each migration exactly once`, async t => {
    const db = await freshDatabase(t, backend)
    if (db === undefined) return
    for (let round = 0; round < 3; round++) {
      if (round > 0) await migrate(connection(db.url), { to: NO_MIGRATIONS })
      const results: TogetherResult<string[]>[] = await runTogether({ kind: 'migrate', url: db.url }, 2)
      for (const r of results) assert.equal(r.error, undefined, r.error)
      assert.deepEqual(results.flatMap(r => r.value ?? []).sort(), latest, 'each migration applied by exactly one of the two')
      assert.equal(await count(db, 'churnflow_migration'), latest.length)
    }
  })

  test(`${backend}: churnflow db migrate applies what is pending and db status shows it`, async t => {
    const db = await freshDatabase(t, backend)
    if (db === undefined) return
    const env = { DATABASE_URL: db.url, LOG_LEVEL: 'warn' }
    const before = await cli(['db', 'status'], env)
    assert.equal(before.code, 0, before.stderr)
    assert.match(before.stdout, /0001_fraud_tables\s+pending/)
    assert.match(before.stdout, /3 pending: run churnflow db migrate/)
    assert.match(before.stdout, /^churn_predictions: missing/m)
    const applied = await cli(['db', 'migrate'], env)
    assert.equal(applied.code, 0, applied.stderr)
    assert.deepEqual([...applied.stdout.matchAll(/^applied (\S+)$/gm)].map(m => m[1]), latest)
    assert.match(applied.stdout, /^churn_predictions: created$/m)
    const again = await cli(['db', 'migrate'], env)
    assert.match(again.stdout, /up to date, nothing to apply/)
    assert.match(again.stdout, /^churn_predictions: up to date$/m)
    const after = await cli(['db', 'status'], env)
    assert.match(after.stdout, /0002_extra_and_kafka_coordinates\s+applied \d{4}-\d\d-\d\dT/)
    assert.match(after.stdout, /^up to date$/m)
    assert.match(after.stdout, /^churn_predictions: ready$/m)
  })

  test(`${backend}: the second migration upgrades a database created by the first, keeping its rows`, async t => {
    const db = await freshDatabase(t, backend)
    if (db === undefined) return
    assert.deepEqual(await migrate(connection(db.url), { to: first }), [first])
    await db.query(`INSERT INTO transactions (transaction_id, account_id, amount, currency, merchant_id, merchant_category, channel, country, event_timestamp)
      VALUES ('old-1', 'acct-1', 12.5, 'USD', 'm-1', 'grocery', 'pos', 'US', '2026-01-02 03:04:05')`)
    await db.query(`INSERT INTO predictions (transaction_id, fraud_score, prediction, model_version, reasons) VALUES ('old-1', 0.2, 'legit', 'v0', '[]')`)
    await assert.rejects(db.query('SELECT extra FROM transactions'), 'the first migration has no extra column')
    assert.deepEqual(await migrate(connection(db.url)), latest.slice(1))
    const old = await db.query("SELECT t.transaction_id, t.extra, p.kafka_offset FROM transactions t JOIN predictions p ON p.transaction_id = t.transaction_id WHERE t.transaction_id = 'old-1'")
    assert.deepEqual(old.map(r => [r.transaction_id, r.extra, r.kafka_offset]), [['old-1', null, null]])
    const store = openFraudStore(connection(db.url))
    t.after(() => store.close())
    const { transactions, predictions } = batch(0, 3)
    assert.deepEqual(await store.write(transactions, predictions), { transactions: 3, predictions: 3 })
    assert.equal(await count(db, 'transactions'), 4)
  })

  test(`${backend}: the same batch twice and overlapping batches leave exactly one row per transaction_id`, async t => {
    const db = await freshDatabase(t, backend)
    if (db === undefined) return
    await migrate(connection(db.url))
    const store = openFraudStore(connection(db.url))
    t.after(() => store.close())
    // 300 rows: MariaDB loads them with LOAD DATA LOCAL; 20 go in by INSERT.
    const a = batch(0, 300)
    assert.deepEqual(await store.write(a.transactions, a.predictions), { transactions: 300, predictions: 300 })
    assert.deepEqual(await store.write(a.transactions, a.predictions), { transactions: 0, predictions: 0 })
    const b = batch(250, 320)
    assert.deepEqual(await store.write(b.transactions, b.predictions), { transactions: 20, predictions: 20 })
    const c = batch(310, 330)
    assert.deepEqual(await store.write(c.transactions, c.predictions), { transactions: 10, predictions: 10 })
    for (const table of ['transactions', 'predictions']) {
      assert.equal(await count(db, table), 330, table)
      assert.equal(await duplicates(db, table), 0, table)
    }
    const offset = backend === 'sqlite' ? 'CAST(kafka_offset AS TEXT)' : backend === 'postgres' ? 'kafka_offset::text' : 'CAST(kafka_offset AS CHAR)'
    const [row] = await db.query(`SELECT t.amount, t.card_id, t.extra, t.currency, p.reasons, p.prediction, ${offset} AS o
      FROM transactions t JOIN predictions p ON p.transaction_id = t.transaction_id WHERE t.transaction_id = 'tx-5'`)
    assert.equal(Number(row?.amount), 11.25)
    assert.equal(row?.card_id, 'card-5')
    assert.deepEqual(typeof row?.extra === 'string' ? JSON.parse(row.extra) : row?.extra, { device: 'd-5', note: 'tab\there' })
    assert.deepEqual(typeof row?.reasons === 'string' ? JSON.parse(row.reasons) : row?.reasons, ['amount_vs_habit', 'new_country'])
    assert.equal(row?.prediction, 'fraud')
    assert.equal(row?.o, '9007199254740998', 'a 64-bit offset is stored exactly')
  })

  test(`${backend}: any text goes in and reads back unchanged`, async t => {
    const db = await freshDatabase(t, backend)
    if (db === undefined) return
    await migrate(connection(db.url))
    const store = openFraudStore(connection(db.url))
    t.after(() => store.close())
    // What an array literal, a LOAD DATA file or a statement would take for something else.
    const texts = ['', 'NULL', 'null', '\\N', 'a,b', '{x}', '"quoted"', 'back\\slash', 'both \\" at once', ' spaces around ', 'tab\there',
      'new\nline', "single ' quote", 'ünïcödé 🙂']
    const b = batch(0, texts.length)
    const transactions = b.transactions.map((tx, i) => ({ ...tx, merchantId: texts[i] as string, extra: JSON.stringify({ text: texts[i] }) }))
    await store.write(transactions, b.predictions)
    const rows = await db.query('SELECT transaction_id, merchant_id, extra FROM transactions')
    const got = new Map(rows.map(r => [r.transaction_id, r]))
    texts.forEach((text, i) => {
      const row = got.get(`tx-${i}`)
      assert.equal(row?.merchant_id, text, `merchant_id ${JSON.stringify(text)}`)
      assert.deepEqual(typeof row?.extra === 'string' ? JSON.parse(row.extra) : row?.extra, { text }, `extra ${JSON.stringify(text)}`)
    })
  })

  test(`${backend}: a batch is one transaction: a row the database refuses leaves none of the batch`, async t => {
    const db = await freshDatabase(t, backend)
    if (db === undefined) return
    await migrate(connection(db.url))
    const store = openFraudStore(connection(db.url))
    t.after(() => store.close())
    const { transactions, predictions } = batch(0, 10)
    predictions[9] = { ...predictions[9] as FraudPredictionRow, prediction: 'maybe' as FraudLabel }
    await assert.rejects(store.write(transactions, predictions), (error: unknown) =>
      error instanceof ChurnflowError && error.code === ErrorCodes.DATABASE_FAILED && !error.retriable)
    assert.equal(await count(db, 'transactions'), 0, 'the transactions written before the refused prediction were rolled back')
    assert.equal(await count(db, 'predictions'), 0)
  })

  test(`${backend}: with DB_MIGRATE=false a start refuses pending migrations; with true it applies them`, async t => {
    const db = await freshDatabase(t, backend)
    if (db === undefined) return
    const config = (dbMigrate: boolean): SqlConnection & Pick<Config, 'dbMigrate'> => ({ ...connection(db.url), dbMigrate })
    await assert.rejects(migrateAtStart(config(false)), /3 migration\(s\) pending .*DB_MIGRATE is false/)
    await migrateAtStart(config(true))
    await migrateAtStart(config(false))
    assert.ok((await migrationStatus(connection(db.url))).every(m => m.executedAt !== undefined))
  })
}

test('postgres: the fraud streaming consumer\'s README queries run unchanged against the tables', async t => {
  const db = await freshDatabase(t, 'postgres')
  if (db === undefined) return
  await migrate(connection(db.url))
  const store = openFraudStore(connection(db.url))
  t.after(() => store.close())
  const { transactions, predictions } = batch(0, 50)
  await store.write(transactions, predictions)
  const [recent] = await db.query("SELECT COUNT(*) FROM transactions WHERE created_at > NOW() - INTERVAL '1 hour';")
  assert.equal(Number(recent?.count), 50)
  const byLabel = await db.query(`SELECT prediction, COUNT(*) as count, AVG(fraud_score) as avg_score FROM predictions
    WHERE created_at > NOW() - INTERVAL '1 hour' GROUP BY prediction;`)
  assert.deepEqual(byLabel.map(r => [r.prediction, Number(r.count), Number(Number(r.avg_score).toFixed(6))]).sort(),
    [['fraud', 10, 0.9], ['legit', 40, 0.1]])
  const perMinute = await db.query(`SELECT DATE_TRUNC('minute', created_at) as minute, COUNT(*) as transactions FROM transactions
    WHERE created_at > NOW() - INTERVAL '1 hour' GROUP BY minute ORDER BY minute DESC;`)
  assert.ok(perMinute.length >= 1 && perMinute.length <= 2, 'one batch lands in one minute, or two at a minute\'s turn')
  assert.equal(perMinute.reduce((sum, r) => sum + Number(r.transactions), 0), 50)
  assert.ok(perMinute.every(r => r.minute instanceof Date))
})

test('postgres: a connection lost while its client is checked out (a write\'s transaction, a migration) fails its query, not the process; the pool then connects afresh', async t => {
  const db = await freshDatabase(t, 'postgres')
  if (db === undefined) return
  const direct = new URL(db.url)
  const proxy = new TcpProxy(direct.hostname, Number(direct.port === '' ? 5432 : direct.port))
  const port = await proxy.start()
  t.after(() => proxy.stop())
  const viaProxy = new URL(db.url)
  viaProxy.port = String(port)
  const pool = createPgPool({ url: viaProxy.toString() })
  t.after(() => pool.end())
  const client = await pool.connect()
  await client.query('BEGIN')
  // The server goes away while the client is out of the pool: pg emits 'error' on the client,
  // which with nothing listening would end this process here.
  await proxy.stop()
  await assert.rejects(client.query('SELECT 1'))
  client.release()
  await proxy.start(port)
  assert.equal((await pool.query<{ one: number }>('SELECT 1 AS one')).rows[0]?.one, 1)
})

test('postgres: an unreachable database fails the write retriable, as the prediction store does', async () => {
  const port = await freePort()
  const store = openFraudStore(connection(`postgres://postgres@127.0.0.1:${port}/none`))
  try {
    const { transactions, predictions } = batch(0, 2)
    await assert.rejects(store.write(transactions, predictions), (error: unknown) =>
      error instanceof ChurnflowError && error.code === ErrorCodes.DATABASE_UNAVAILABLE && error.retriable)
    await assert.rejects(migrate(connection(`postgres://postgres@127.0.0.1:${port}/none`)), (error: unknown) =>
      error instanceof ChurnflowError && error.retriable)
  } finally {
    await store.close()
  }
})
