import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { test, type TestContext } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import mysql from 'mysql2/promise'
import pg from 'pg'
import { ChurnflowError, ErrorCodes } from '../../src/errors.ts'
import {
  MysqlPredictionStore, openPredictionStore, PostgresPredictionStore, SqlitePredictionStore, TableStates,
  type PredictionRow, type PredictionStore, type SqlConnection
} from '../../src/sql/index.ts'
import { startPrivateMariadb } from '../helpers/mariadb.ts'
import { freePort } from '../helpers/ports.ts'
import { unavailable, uniqueName } from '../helpers/services.ts'
import { runTogether } from '../helpers/together.ts'

// Anything that used the machine's local time instead of UTC would now be five hours off.
process.env.TZ = 'America/New_York'

const MARIADB = process.env.CHURNFLOW_TEST_MARIADB ?? 'mysql://root@127.0.0.1:3306/churnflow_test'
const POSTGRES = process.env.CHURNFLOW_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/postgres'

/** Plain SQL against the test database, to set things up and to read back what a store wrote. */
interface Raw {
  readonly url: string
  query (sql: string): Promise<Record<string, unknown>[]>
  close (): Promise<void>
}

interface Backend {
  readonly name: 'mariadb' | 'postgres' | 'sqlite'
  /** The raw connection, or undefined (after skipping) when the database cannot be reached. */
  connect (t: TestContext): Promise<Raw | undefined>
  quote (name: string): string
  /** A timestamp column as `YYYY-MM-DD HH:MM:SS[.mmm]` text, as stored. */
  timestamp (column: string): string
  /** The offset as decimal text, so no driver rounds it through a double. */
  offset: string
  /** What the churn prediction consumer created (MySQL) or the same columns in this dialect, without kafka_topic or any unique key. */
  seedDdl (table: string): string
  /** How finely event_timestamp keeps time: the churn prediction consumer's DATETIME keeps whole seconds. */
  readonly precisionMs: number
  /** How many indexes the table has (primary and unique keys included), by the database's own catalogue. */
  indexCount (table: string): string
  /**
   * The spec's indexes the seed's table lacks once a user has indexed (prediction_timestamp):
   * what the dialect appends to an index (InnoDB's key, SQLite's rowid) makes idx_user_id serve (user_id, id).
   */
  readonly missingOnSeed: readonly string[]
  /** The indexes a new table gets, keys included. */
  readonly newTableIndexes: number
}

const backends: readonly Backend[] = [
  {
    name: 'mariadb',
    async connect (t) {
      const url = new URL(MARIADB)
      const options = { host: url.hostname, port: Number(url.port || 3306), user: decodeURIComponent(url.username || 'root'), password: decodeURIComponent(url.password), connectTimeout: 3000 }
      const database = url.pathname.slice(1)
      let connection: mysql.Connection
      try {
        const admin = await mysql.createConnection(options)
        await admin.query(`CREATE DATABASE IF NOT EXISTS \`${database}\``)
        await admin.end()
        connection = await mysql.createConnection({ ...options, database, dateStrings: true, jsonStrings: true, supportBigNumbers: true, bigNumberStrings: true })
      } catch {
        unavailable(t, `MariaDB at ${MARIADB}`)
        return undefined
      }
      return {
        url: MARIADB,
        async query (sql) { return (await connection.query(sql))[0] as Record<string, unknown>[] },
        async close () { await connection.end() }
      }
    },
    quote: name => `\`${name}\``,
    timestamp: column => `DATE_FORMAT(${column}, '%Y-%m-%d %H:%i:%s')`,
    offset: 'CAST(kafka_offset AS CHAR)',
    seedDdl: table => `CREATE TABLE ${table} (
    id INT AUTO_INCREMENT PRIMARY KEY,
    user_id VARCHAR(50) NOT NULL,
    event_type VARCHAR(50) NOT NULL,
    churn_score FLOAT NOT NULL,
    event_timestamp DATETIME NOT NULL,
    prediction_timestamp DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    metadata JSON,
    kafka_partition INT,
    kafka_offset BIGINT,
    INDEX idx_user_id (user_id),
    INDEX idx_event_type (event_type),
    INDEX idx_churn_score (churn_score),
    INDEX idx_event_timestamp (event_timestamp)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
    precisionMs: 1000,
    indexCount: table => `SELECT COUNT(DISTINCT INDEX_NAME) AS n FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '${table}'`,
    missingOnSeed: ['idx_event_score_user'],
    // PRIMARY, the unique key, and six of the spec's seven: idx_user_id serves (user_id, id).
    newTableIndexes: 8
  },
  {
    name: 'postgres',
    async connect (t) {
      const client = new pg.Client({ connectionString: POSTGRES, connectionTimeoutMillis: 3000 })
      try {
        await client.connect()
      } catch {
        await client.end().catch(() => undefined)
        unavailable(t, `PostgreSQL at ${POSTGRES}`)
        return undefined
      }
      return {
        url: POSTGRES,
        async query (sql) { return (await client.query(sql)).rows as Record<string, unknown>[] },
        async close () { await client.end() }
      }
    },
    quote: name => `"${name}"`,
    timestamp: column => `to_char(${column}, 'YYYY-MM-DD HH24:MI:SS.MS')`,
    offset: 'kafka_offset::text',
    seedDdl: table => `CREATE TABLE ${table} (
      id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      user_id VARCHAR(50) NOT NULL,
      event_type VARCHAR(50) NOT NULL,
      churn_score REAL NOT NULL,
      event_timestamp TIMESTAMP NOT NULL,
      prediction_timestamp TIMESTAMP NOT NULL DEFAULT (now() at time zone 'utc'),
      metadata JSONB,
      kafka_partition INT,
      kafka_offset BIGINT
    )`,
    precisionMs: 1,
    indexCount: table => `SELECT COUNT(*) AS n FROM pg_indexes WHERE tablename = '${table}'`,
    missingOnSeed: ['idx_user_id', 'idx_event_type', 'idx_churn_score', 'idx_event_timestamp', 'idx_user_id_id', 'idx_event_score_user'],
    newTableIndexes: 9
  },
  {
    name: 'sqlite',
    async connect () {
      const dir = mkdtempSync(join(tmpdir(), 'churnflow-sql-test-'))
      const path = join(dir, 'nested', 'predictions.db')
      let db: DatabaseSync | undefined
      const open = (): DatabaseSync => {
        mkdirSync(dirname(path), { recursive: true })
        db ??= new DatabaseSync(path, { timeout: 5000 })
        return db
      }
      return {
        url: `sqlite:${path}`,
        async query (sql) {
          const statement = open().prepare(sql)
          return /^\s*select/i.test(sql) ? statement.all() as Record<string, unknown>[] : (statement.run(), [])
        },
        async close () {
          db?.close()
          rmSync(dir, { recursive: true, force: true })
        }
      }
    },
    quote: name => `"${name}"`,
    timestamp: column => column,
    offset: 'CAST(kafka_offset AS TEXT)',
    seedDdl: table => `CREATE TABLE ${table} (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      user_id TEXT NOT NULL,
      event_type TEXT NOT NULL,
      churn_score REAL NOT NULL,
      event_timestamp TEXT NOT NULL,
      prediction_timestamp TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
      metadata TEXT,
      kafka_partition INTEGER,
      kafka_offset INTEGER
    )`,
    precisionMs: 1,
    indexCount: table => `SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'index' AND tbl_name = '${table}'`,
    missingOnSeed: ['idx_user_id', 'idx_event_type', 'idx_churn_score', 'idx_event_timestamp', 'idx_event_score_user'],
    // The unique key and six of the spec's seven (no primary-key index: the id is the rowid).
    newTableIndexes: 7
  }
]

const noDatabase: SqlConnection = {
  databaseUrl: undefined, dbHost: undefined, dbPort: 3306, dbUser: 'root', dbPassword: '', dbName: 'churn_db', stateDir: '/nonexistent/churnflow'
}

interface Fixture {
  readonly raw: Raw
  readonly table: string
  /** A new store on the fixture's table, as another process would open it; closed with the test. */
  open (): PredictionStore
  count (): Promise<number>
  read (): Promise<Record<string, unknown>[]>
}

async function fixture (t: TestContext, backend: Backend): Promise<Fixture | undefined> {
  const raw = await backend.connect(t)
  if (raw === undefined) return undefined
  const table = uniqueName('cf_test').replaceAll('-', '_')
  const stores: PredictionStore[] = []
  t.after(async () => {
    for (const store of stores) await store.close()
    await raw.query(`DROP TABLE IF EXISTS ${backend.quote(table)}`)
    await raw.close()
  })
  return {
    raw,
    table,
    open () {
      const store = openPredictionStore({ ...noDatabase, databaseUrl: raw.url }, { table })
      stores.push(store)
      return store
    },
    async count () {
      const [row] = await raw.query(`SELECT COUNT(*) AS n FROM ${backend.quote(table)}`)
      return Number(row?.n)
    },
    async read () {
      return await raw.query(`SELECT user_id, event_type, churn_score, ${backend.timestamp('event_timestamp')} AS event_timestamp,
        ${backend.timestamp('prediction_timestamp')} AS prediction_timestamp, metadata, kafka_topic, kafka_partition,
        ${backend.offset} AS kafka_offset FROM ${backend.quote(table)} ORDER BY id`)
    }
  }
}

const base = Date.UTC(2024, 0, 15, 10, 30, 0)

function rows (count: number, options: { from?: number, topic?: string, partition?: number, offset?: bigint } = {}): PredictionRow[] {
  const from = options.from ?? 0
  return Array.from({ length: count }, (_, k) => {
    const i = from + k
    return {
      userId: `user_${i % 97}`,
      eventType: i % 2 === 0 ? 'login' : 'purchase',
      churnScore: (i % 100) / 100,
      eventTime: base + i * 1000,
      predictionTime: base + i * 1000 + 250,
      metadata: i % 3 === 0 ? null : JSON.stringify({ i, page: `/p/${i}` }),
      topic: options.topic ?? 'user-events',
      partition: options.partition ?? i % 3,
      offset: (options.offset ?? 0n) + BigInt(i)
    }
  })
}

/** `YYYY-MM-DD HH:MM:SS[.mmm]` read as UTC. */
const utc = (text: unknown): number => Date.parse(`${String(text).replace(' ', 'T')}Z`)

function isRetriable (error: unknown): boolean {
  assert.ok(error instanceof ChurnflowError, `expected a ChurnflowError, got ${String(error)}`)
  assert.equal(error.code, ErrorCodes.DATABASE_UNAVAILABLE, error.message)
  assert.equal(error.retriable, true)
  return true
}

async function timed<T> (work: () => Promise<T>): Promise<{ value: T, ms: number }> {
  const started = Date.now()
  const value = await work()
  return { value, ms: Date.now() - started }
}

for (const backend of backends) {
  test(`${backend.name}: ensureTable creates the table and rows read back with UTC times, JSON metadata and 64-bit offsets`, async t => {
    const f = await fixture(t, backend)
    if (f === undefined) return
    const store = f.open()
    assert.equal(await store.tableState(), TableStates.MISSING)
    await store.ensureTable()
    assert.equal(await store.tableState(), TableStates.READY)
    await store.ensureTable()

    const written: PredictionRow[] = [
      { userId: 'user_1', eventType: 'login', churnScore: 0.25, eventTime: Date.UTC(2024, 6, 1, 23, 59, 58, 123), predictionTime: Date.UTC(2024, 6, 2, 0, 0, 1, 456), metadata: '{"page":"/home","nested":{"a":[1,2]},"text":"é ✓"}', topic: 'user-events', partition: 2, offset: 9_007_199_254_740_993n },
      { userId: 'cust-9', eventType: 'payment_failed', churnScore: 0.875, eventTime: Date.UTC(2023, 11, 31, 12, 0, 0), predictionTime: Date.UTC(2023, 11, 31, 12, 0, 1), metadata: null, topic: 'customer-events', partition: 0, offset: 4_294_967_297n },
      // Every character a tab-separated load must escape, in an id and in the JSON's strings.
      { userId: 'a\tb\\c\nd\re\\N', eventType: 'bounce', churnScore: 1e-7, eventTime: Date.UTC(2024, 1, 29), predictionTime: Date.UTC(2024, 1, 29), metadata: JSON.stringify({ path: 'C:\\dir\\N', say: 'a "b"\tc\nd', empty: '' }), topic: 'user-events', partition: 1, offset: 0n }
    ]
    assert.equal(await store.insert(written), 3)
    assert.equal(await store.insert([]), 0)

    const stored = await f.read()
    assert.equal(stored.length, 3)
    for (const [i, row] of written.entries()) {
      const got = stored[i]!
      assert.equal(got.user_id, row.userId)
      assert.equal(got.event_type, row.eventType)
      assert.ok(Math.abs(Number(got.churn_score) - row.churnScore) <= 1e-7 * row.churnScore, `churn_score ${String(got.churn_score)}`)
      const expected = (ms: number): number => Math.floor(ms / backend.precisionMs) * backend.precisionMs
      assert.equal(utc(got.event_timestamp), expected(row.eventTime), `event_timestamp ${String(got.event_timestamp)}`)
      assert.equal(utc(got.prediction_timestamp), expected(row.predictionTime), `prediction_timestamp ${String(got.prediction_timestamp)}`)
      const metadata = typeof got.metadata === 'string' ? JSON.parse(got.metadata) as unknown : got.metadata
      assert.deepEqual(metadata, row.metadata === null ? null : JSON.parse(row.metadata))
      assert.equal(got.kafka_topic, row.topic)
      assert.equal(Number(got.kafka_partition), row.partition)
      assert.equal(BigInt(String(got.kafka_offset)), row.offset)
    }
  })

  test(`${backend.name}: a replayed batch inserts nothing and a mixed batch only its new rows`, async t => {
    const f = await fixture(t, backend)
    if (f === undefined) return
    const store = f.open()
    await store.ensureTable()
    const first = rows(100)
    assert.equal(await store.insert(first), 100)
    assert.equal(await store.insert(first), 0)
    assert.equal(await f.count(), 100)

    const mixed = [...first.slice(50), ...rows(50, { from: 100 })]
    assert.equal(await store.insert(mixed), 50)
    assert.equal(await f.count(), 150)

    // The same coordinates on another topic are another record; twice in one batch, one row.
    const other = rows(10, { topic: 'customer-events' })
    assert.equal(await store.insert([...other, ...other]), 10)
    assert.equal(await f.count(), 160)
  })

  test(`${backend.name}: a table with the churn prediction consumer's columns is adopted by two processes at once, old rows kept`, async t => {
    const f = await fixture(t, backend)
    if (f === undefined) return
    await f.raw.query(backend.seedDdl(backend.quote(f.table)))
    await f.raw.query(`INSERT INTO ${backend.quote(f.table)} (user_id, event_type, churn_score, event_timestamp, metadata, kafka_partition, kafka_offset)
      VALUES ('old_1', 'login', 0.5, '2023-01-01 00:00:00', NULL, 0, 1), ('old_2', 'logout', 0.1, '2023-01-01 00:00:01', NULL, 0, 1)`)
    const [a, b] = [f.open(), f.open()]
    assert.equal(await a.tableState(), TableStates.NEEDS_KEY)
    await Promise.all([a.ensureTable(), b.ensureTable()])
    assert.equal(await a.tableState(), TableStates.READY)
    assert.equal(await f.count(), 2)

    assert.equal(await a.insert(rows(20)), 20)
    assert.equal(await b.insert(rows(20)), 0)
    assert.equal(await f.count(), 22)
    const stored = await f.read()
    assert.deepEqual(stored.slice(0, 2).map(r => [r.user_id, r.kafka_topic]), [['old_1', null], ['old_2', null]])
  })

  test(`${backend.name}: an existing table gets the spec's indexes it lacks, once, and an index on the same columns under another name counts`, async t => {
    const f = await fixture(t, backend)
    if (f === undefined) return
    const indexes = async (table: string): Promise<number> => Number((await f.raw.query(backend.indexCount(table)))[0]?.n)
    await f.raw.query(backend.seedDdl(backend.quote(f.table)))
    await f.raw.query(`CREATE INDEX ${f.table}_users_own ON ${backend.quote(f.table)} (prediction_timestamp)`)
    const [a, b] = [f.open(), f.open()]
    assert.deepEqual((await a.missingIndexes()).map(i => i.name), backend.missingOnSeed)
    const before = await indexes(f.table)
    await Promise.all([a.ensureTable(), b.ensureTable()])
    assert.deepEqual(await a.missingIndexes(), [])
    // The missing ones and the unique key, each once, though two processes adopted the table.
    assert.equal(await indexes(f.table), before + backend.missingOnSeed.length + 1)
    await a.ensureTable()
    assert.equal(await indexes(f.table), before + backend.missingOnSeed.length + 1, 'a second look adds nothing')

    const fresh = `${f.table}_new`
    const c = openPredictionStore({ ...noDatabase, databaseUrl: f.raw.url }, { table: fresh })
    try {
      assert.deepEqual(await c.missingIndexes(), [], 'a missing table lacks no index: it gets them with it')
      await c.ensureTable()
      assert.deepEqual(await c.missingIndexes(), [])
      assert.equal(await indexes(fresh), backend.newTableIndexes)
    } finally {
      await c.close()
      await f.raw.query(`DROP TABLE IF EXISTS ${backend.quote(fresh)}`)
    }
  })

  test(`${backend.name}: two processes may create the table at the same moment`, async t => {
    const f = await fixture(t, backend)
    if (f === undefined) return
    const stores = [f.open(), f.open(), f.open()]
    await Promise.all(stores.flatMap(s => [s.ensureTable(), s.ensureTable()]))
    assert.equal(await stores[0]!.tableState(), TableStates.READY)
    const counts = await Promise.all(stores.map(s => s.insert(rows(30))))
    assert.equal(counts.reduce((x, y) => x + y, 0), 30)
    assert.equal(await f.count(), 30)
  })

  test(`${backend.name}: 5,000 rows go in one call, and their replay inserts none`, async t => {
    const f = await fixture(t, backend)
    if (f === undefined) return
    const store = f.open()
    await store.ensureTable()
    const batch = rows(5000, { offset: 1n << 40n })
    const first = await timed(() => store.insert(batch))
    assert.equal(first.value, 5000)
    const replay = await timed(() => store.insert(batch))
    assert.equal(replay.value, 0)
    assert.equal(await f.count(), 5000)
    t.diagnostic(`${backend.name}: 5,000 new rows in ${first.ms} ms, their replay in ${replay.ms} ms`)
  })

  test(`${backend.name}: a missing table is a DATABASE_FAILED error that is not retriable`, async t => {
    const f = await fixture(t, backend)
    if (f === undefined) return
    const store = f.open()
    await store.ping()
    await assert.rejects(store.insert(rows(1)), (error: unknown) => {
      assert.ok(error instanceof ChurnflowError)
      assert.equal(error.code, ErrorCodes.DATABASE_FAILED)
      assert.equal(error.retriable, false)
      assert.match(error.message, new RegExp(f.table))
      return true
    })
  })
}

test('mariadb: a database that refuses or never answers fails fast and retriable, again and again', async t => {
  const refused = new MysqlPredictionStore({ host: '127.0.0.1', port: 1, database: 'churnflow_test', password: 'hunter2' })
  const { server, port } = await silentServer(t)
  const silent = new MysqlPredictionStore({ host: '127.0.0.1', port, database: 'churnflow_test', connectTimeoutMs: 1000 })
  t.after(async () => { await refused.close(); await silent.close(); server.close() })
  assert.doesNotMatch(refused.name, /hunter2/)
  // More attempts than the pool has connections: a failed connect must not use up a slot.
  for (let i = 0; i < 6; i++) {
    const { ms } = await timed(() => assert.rejects(refused.insert(rows(5)), isRetriable))
    assert.ok(ms < 3000, `refused in ${ms} ms`)
  }
  await assert.rejects(refused.ensureTable(), isRetriable)
  await assert.rejects(refused.ping(), isRetriable)
  await assert.rejects(refused.tableState(), isRetriable)
  const { ms } = await timed(() => assert.rejects(silent.insert(rows(5)), isRetriable))
  assert.ok(ms < 4000, `a silent server failed after ${ms} ms`)
})

test('postgres: a database that refuses or never answers fails fast and retriable, again and again', async t => {
  const refused = new PostgresPredictionStore({ url: 'postgres://postgres:hunter2@127.0.0.1:1/postgres' })
  const { server, port } = await silentServer(t)
  const silent = new PostgresPredictionStore({ url: `postgres://postgres@127.0.0.1:${port}/postgres`, connectTimeoutMs: 1000 })
  t.after(async () => { await refused.close(); await silent.close(); server.close() })
  assert.doesNotMatch(refused.name, /hunter2/)
  for (let i = 0; i < 6; i++) {
    const { ms } = await timed(() => assert.rejects(refused.insert(rows(5)), isRetriable))
    assert.ok(ms < 3000, `refused in ${ms} ms`)
  }
  await assert.rejects(refused.ensureTable(), isRetriable)
  await assert.rejects(refused.ping(), isRetriable)
  await assert.rejects(refused.tableState(), isRetriable)
  const { ms } = await timed(() => assert.rejects(silent.insert(rows(5)), isRetriable))
  assert.ok(ms < 4000, `a silent server failed after ${ms} ms`)
})

test('sqlite: a database locked by another writer fails retriable after the busy timeout', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'churnflow-sql-test-'))
  const path = join(dir, 'locked.db')
  const store = new SqlitePredictionStore({ path, table: 'predictions', busyTimeoutMs: 200 })
  const other = new DatabaseSync(path)
  t.after(async () => { await store.close(); other.close(); rmSync(dir, { recursive: true, force: true }) })
  await store.ensureTable()
  other.exec('BEGIN IMMEDIATE')
  const { ms } = await timed(() => assert.rejects(store.insert(rows(5)), isRetriable))
  assert.ok(ms < 3000, `locked for ${ms} ms`)
  other.exec('ROLLBACK')
  assert.equal(await store.insert(rows(5)), 5)
})

test('sqlite: threads opening a new file at the same moment all get it, in WAL mode', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'churnflow-sql-test-'))
  t.after(() => { rmSync(dir, { recursive: true, force: true }) })
  // SQLite refuses the switch to WAL at once, busy handler or not, to a thread opening a new file
  // while another switches it: a few times in a hundred files, so 200 catch it.
  const paths = Array.from({ length: 200 }, (_, file) => join(dir, `new-${file}.db`))
  const results = await runTogether<string[]>({ kind: 'open-sqlite', paths }, 3)
  for (const r of results) assert.equal(r.error, undefined, r.error)
  const refused = results.flatMap(r => (r.value ?? []).filter(mode => mode !== 'wal'))
  assert.deepEqual(refused, [], `${refused.length} of ${paths.length * 3} opens were refused`)
})

/** A TCP server that accepts connections and never says a word, like a database host that hangs. */
async function silentServer (t: TestContext): Promise<{ server: ReturnType<typeof createServer>, port: number }> {
  const sockets = new Set<Socket>()
  const server = createServer(socket => { sockets.add(socket); socket.on('error', () => undefined) })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.after(() => { for (const socket of sockets) socket.destroy() })
  return { server, port: (server.address() as AddressInfo).port }
}

test('openPredictionStore picks the backend from DATABASE_URL, then DB_HOST, else SQLite in the state directory', async t => {
  const opened: PredictionStore[] = []
  const open = (config: Partial<SqlConnection>, table?: string): PredictionStore => {
    const store = openPredictionStore({ ...noDatabase, ...config }, table === undefined ? {} : { table })
    opened.push(store)
    return store
  }
  t.after(async () => { for (const store of opened) await store.close() })

  const mysqlUrl = open({ databaseUrl: 'mysql://app:s3cr%40t@db.example:3307/churn', dbHost: 'ignored' })
  assert.equal(mysqlUrl.dialect, 'mysql')
  assert.equal(mysqlUrl.name, 'mysql app@db.example:3307/churn')
  assert.equal(mysqlUrl.table, 'churn_predictions')
  assert.equal(open({ databaseUrl: 'mariadb://root:pw@127.0.0.1/x' }).name, 'mysql root@127.0.0.1:3306/x')

  const postgres = open({ databaseUrl: 'postgres://app:s3cret@pg.example/analytics' })
  assert.equal(postgres.dialect, 'postgres')
  assert.equal(postgres.name, 'postgres app@pg.example:5432/analytics')
  assert.equal(open({ databaseUrl: 'postgresql://postgres:pw@127.0.0.1:5433' }).name, 'postgres postgres@127.0.0.1:5433/postgres')

  assert.equal(open({ databaseUrl: 'sqlite:/var/lib/churnflow/p.db' }).name, 'sqlite /var/lib/churnflow/p.db')
  assert.equal(open({ databaseUrl: 'sqlite:///var/lib/churnflow/p.db' }).name, 'sqlite /var/lib/churnflow/p.db')
  assert.equal(open({ databaseUrl: 'sqlite:relative.db' }).name, `sqlite ${resolve('relative.db')}`)

  const seed = open({ dbHost: 'mysql.internal', dbPort: 3310, dbUser: 'churn', dbPassword: 'hunter2', dbName: 'churn_db' })
  assert.equal(seed.dialect, 'mysql')
  assert.equal(seed.name, 'mysql churn@mysql.internal:3310/churn_db')

  for (const store of opened) assert.doesNotMatch(store.name, /s3cr|hunter2|pw/)

  // The default: a SQLite file under the state directory, whose directories appear on first use.
  const dir = mkdtempSync(join(tmpdir(), 'churnflow-sql-test-'))
  t.after(() => { rmSync(dir, { recursive: true, force: true }) })
  const stateDir = join(dir, 'state', 'churnflow')
  const local = open({ stateDir })
  assert.equal(local.dialect, 'sqlite')
  assert.equal(local.name, `sqlite ${join(stateDir, 'churnflow.db')}`)
  assert.equal(await local.tableState(), TableStates.MISSING)
  await local.ensureTable()
  assert.equal(await local.insert(rows(3)), 3)
  const db = new DatabaseSync(join(stateDir, 'churnflow.db'), { readOnly: true })
  try {
    assert.equal((db.prepare('PRAGMA journal_mode').get() as { journal_mode: string }).journal_mode, 'wal')
    assert.equal(Number((db.prepare('SELECT COUNT(*) AS n FROM churn_predictions').get() as { n: number }).n), 3)
  } finally {
    db.close()
  }

  const memory = open({ databaseUrl: 'sqlite::memory:' }, 'in_memory')
  await memory.ensureTable()
  assert.equal(await memory.insert(rows(4)), 4)
  assert.equal(await memory.insert(rows(4)), 0)

  for (const bad of ['1abc', 'a-b', 'x; DROP TABLE y', 'a'.repeat(65), '']) {
    assert.throws(() => open({ databaseUrl: 'sqlite::memory:' }, bad), (error: unknown) =>
      error instanceof ChurnflowError && error.code === ErrorCodes.CONFIG_INVALID)
  }
})

test('mariadb: the same store inserts again after the server restarts, and fails fast and retriable while it is down', { timeout: 240_000 }, async t => {
  const server = await startPrivateMariadb(t, await freePort())
  if (server === undefined) return
  const store = openPredictionStore({ ...noDatabase, databaseUrl: server.url('churnflow_restart') }, { table: 'predictions' })
  t.after(() => store.close())
  await store.ensureTable()
  assert.equal(await store.insert(rows(10)), 10)

  // A quick restart between two batches: the pooled connections died with the old server.
  await server.stop()
  await server.start()
  // 150 rows: a load, where 10 were an INSERT.
  assert.equal(await store.insert(rows(150, { from: 10 })), 150)

  // A long outage: every attempt fails within the connect timeout, none hangs or wedges the pool.
  await server.stop()
  const outageMs = Number(process.env.CHURNFLOW_TEST_OUTAGE_MS ?? 30_000)
  const until = Date.now() + outageMs
  let attempts = 0
  while (Date.now() < until) {
    const { ms } = await timed(() => assert.rejects(store.insert(rows(attempts % 2 === 0 ? 10 : 150, { from: 160 })), isRetriable))
    assert.ok(ms < 6000, `a failed insert took ${ms} ms`)
    await assert.rejects(store.ping(), isRetriable)
    attempts++
    await sleep(1000)
  }
  await server.start()
  assert.equal(await store.insert(rows(150, { from: 160 })), 150)
  await store.ping()
  t.diagnostic(`${attempts} inserts failed retriable during a ${outageMs} ms outage; the first after the restart succeeded`)

  const check = await mysql.createConnection({ host: '127.0.0.1', port: server.port, user: 'root', database: 'churnflow_restart' })
  try {
    const [result] = await check.query('SELECT COUNT(*) AS n FROM predictions')
    assert.equal(Number((result as { n: number }[])[0]?.n), 310)
  } finally {
    await check.end()
  }
})

test('mariadb: a batch larger than one statement is split into statements run side by side; a replay inserts none twice', async t => {
  const backend = backends[0]!
  const f = await fixture(t, backend)
  if (f === undefined) return
  const url = new URL(f.raw.url)
  const store = new MysqlPredictionStore({ host: url.hostname, port: Number(url.port || 3306), database: url.pathname.slice(1), table: f.table, maxRowsPerStatement: 1000 })
  t.after(() => store.close())
  await store.ensureTable()
  assert.equal(await store.insert(rows(1200)), 1200)
  assert.equal(await store.insert(rows(2500)), 1300)
  assert.equal(await f.count(), 2500)
  // Large batches go in two statements at once even under the per-statement limit.
  const big = new MysqlPredictionStore({ host: url.hostname, port: Number(url.port || 3306), database: url.pathname.slice(1), table: f.table })
  t.after(() => big.close())
  assert.equal(await big.insert(rows(6000)), 3500)
  assert.equal(await big.insert(rows(6000)), 0)
  assert.equal(await f.count(), 6000)
})

test('mariadb: rows go in by LOAD DATA LOCAL; a row the server would not store as given fails the batch, its duplicates do not', async t => {
  const backend = backends[0]!
  const f = await fixture(t, backend)
  if (f === undefined) return
  const url = new URL(f.raw.url)
  const store = new MysqlPredictionStore({ host: url.hostname, port: Number(url.port || 3306), database: url.pathname.slice(1), table: f.table })
  t.after(() => store.close())
  await store.ensureTable()
  // Every character a tab-separated load must escape, in an id and in the JSON's strings.
  const tricky = { userId: 'a\tb\\c\nd\re\\N', metadata: JSON.stringify({ path: 'C:\\dir\\N', say: 'a "b"\tc\nd', empty: '' }) }
  assert.equal(await store.insert(rows(3000).map((r, i) => i === 7 ? { ...r, ...tricky } : r)), 3000)
  assert.equal(store.loadsData, true)
  // The two statements run side by side, so either may take the lower ids: rows are found by offset.
  const stored = await f.read()
  const byOffset = new Map(stored.map(r => [BigInt(String(r.kafka_offset)), r]))
  const json = (v: unknown): unknown => typeof v === 'string' ? JSON.parse(v) : v
  assert.equal(stored.length, 3000)
  assert.equal(byOffset.get(7n)?.user_id, tricky.userId)
  assert.deepEqual(json(byOffset.get(7n)?.metadata), JSON.parse(tricky.metadata))
  assert.equal(byOffset.get(6n)?.metadata, null)
  assert.equal(utc(byOffset.get(2999n)?.event_timestamp), base + 2999 * 1000)
  // Every offset stored as given, once.
  for (let o = 0n; o < 3000n; o++) assert.ok(byOffset.has(o), `offset ${o} is missing`)
  // A replay: 3,000 duplicate warnings, more than MariaDB lists by default, and nothing wrong.
  assert.equal(await store.insert(rows(3000)), 0)
  const tooLong = { ...rows(1, { from: 3000 })[0]!, userId: 'x'.repeat(51) }
  const refused = (message: RegExp) => (error: unknown): boolean => {
    assert.ok(error instanceof ChurnflowError)
    assert.equal(error.code, ErrorCodes.DATABASE_FAILED, error.message)
    assert.equal(error.retriable, false)
    assert.match(error.message, message)
    return true
  }
  // A large batch is loaded; a small one is one INSERT, which the server refuses as a whole.
  await assert.rejects(store.insert([...rows(150, { from: 3001 }), tooLong]), refused(/not stored as given.*user_id/))
  await assert.rejects(store.insert([...rows(10, { from: 3200 }), tooLong]), refused(/too long for column 'user_id'/))
})

test('mariadb: a server with local_infile off gets the same rows by INSERT', async t => {
  const backend = backends[0]!
  const f = await fixture(t, backend)
  if (f === undefined) return
  const admin = await mysql.createConnection({ uri: f.raw.url })
  const [[setting]] = await admin.query('SELECT @@GLOBAL.local_infile AS v') as unknown as [{ v: number }[]]
  await admin.query('SET GLOBAL local_infile = 0')
  const url = new URL(f.raw.url)
  const store = new MysqlPredictionStore({ host: url.hostname, port: Number(url.port || 3306), database: url.pathname.slice(1), table: f.table })
  try {
    await store.ensureTable()
    assert.equal(await store.insert(rows(2500)), 2500)
    assert.equal(store.loadsData, false)
    assert.equal(await store.insert(rows(2600)), 100)
  } finally {
    await admin.query(`SET GLOBAL local_infile = ${Number(setting?.v ?? 1)}`)
    await admin.end()
    await store.close()
  }
  assert.equal(await f.count(), 2600)
})
