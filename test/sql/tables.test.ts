import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ColumnTypes, defineTable, openTableStore, TableStates, type SqlConnection } from '../../src/sql/index.ts'
import { freshDatabase } from '../helpers/sql.ts'

// Anything that used the machine's local time instead of UTC would now be five hours off.
process.env.TZ = 'America/New_York'

/** A table churnflow does not have: adding it is this spec and nothing else. */
interface AuditRow { readonly key: string, readonly count: number, readonly at: number, readonly note: string | null, readonly source: string | null }

const auditTable = defineTable<AuditRow>()({
  name: 'audit_rows',
  identity: 'id',
  columns: {
    audit_key: { type: ColumnTypes.TEXT, length: 40 },
    hits: { type: ColumnTypes.BIGINT },
    seen_at: { type: ColumnTypes.INSTANT },
    note: { type: ColumnTypes.JSON, nullable: true },
    source: { type: ColumnTypes.TEXT, length: 20, nullable: true, addOnAdopt: true }
  },
  unique: { name: 'uq_audit_key', columns: ['audit_key', 'source'] },
  indexes: [{ name: 'idx_seen_at', columns: ['seen_at'] }],
  values: r => ({ audit_key: r.key, hits: BigInt(r.count), seen_at: r.at, note: r.note, source: r.source })
})

const rows = (from: number, to: number): AuditRow[] => Array.from({ length: to - from }, (_, i) => ({
  key: `k${from + i}`, count: (from + i) * 1000, at: Date.UTC(2026, 0, 2, 3, 4, 5, 678) + i, note: i % 2 === 0 ? null : `{"i":${from + i}}`, source: 'test'
}))

function connection (url: string): SqlConnection {
  return { databaseUrl: url, dbHost: undefined, dbPort: 3306, dbUser: 'root', dbPassword: '', dbName: 'churn_db', stateDir: '/nonexistent' }
}

for (const backend of ['mariadb', 'postgres', 'sqlite'] as const) {
  test(`${backend}: a new table spec is created, written idempotently and adopted in every dialect`, async t => {
    const db = await freshDatabase(t, backend)
    if (db === undefined) return
    const store = openTableStore(connection(db.url), auditTable)
    t.after(() => store.close())
    assert.equal(await store.tableState(), TableStates.MISSING)
    await store.ensureTable()
    await store.ensureTable()
    assert.equal(await store.tableState(), TableStates.READY)
    // 150 rows: MariaDB loads them with LOAD DATA LOCAL.
    assert.equal(await store.insert(rows(0, 150)), 150)
    assert.equal(await store.insert(rows(100, 160)), 10)
    const [row] = await db.query('SELECT audit_key, hits, note FROM audit_rows WHERE audit_key = \'k7\'')
    assert.equal(String(row?.hits), '7000')
    assert.deepEqual(typeof row?.note === 'string' ? JSON.parse(row.note) : row?.note, { i: 7 })
    assert.equal(Number((await db.query('SELECT COUNT(*) AS n FROM audit_rows'))[0]?.n), 160)

    // A table made before `source` existed: adopted by adding the column and the key, rows kept.
    const old = openTableStore(connection(db.url), auditTable, { table: 'audit_old' })
    t.after(() => old.close())
    const identity = backend === 'mariadb' ? 'id INT AUTO_INCREMENT PRIMARY KEY' : backend === 'postgres' ? 'id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY' : 'id INTEGER PRIMARY KEY AUTOINCREMENT'
    const instant = backend === 'mariadb' ? 'DATETIME(3)' : backend === 'postgres' ? 'TIMESTAMPTZ' : 'TEXT'
    await db.query(`CREATE TABLE audit_old (${identity}, audit_key VARCHAR(40) NOT NULL, hits BIGINT NOT NULL, seen_at ${instant} NOT NULL, note ${backend === 'postgres' ? 'JSONB' : 'TEXT'})`)
    await db.query('INSERT INTO audit_old (audit_key, hits, seen_at) VALUES (\'before\', 1, \'2026-01-01 00:00:00\')')
    assert.equal(await old.tableState(), TableStates.NEEDS_KEY)
    await old.ensureTable()
    assert.equal(await old.tableState(), TableStates.READY)
    assert.equal(await old.insert(rows(0, 5)), 5)
    assert.equal(await old.insert(rows(0, 5)), 0)
    assert.equal(Number((await db.query('SELECT COUNT(*) AS n FROM audit_old'))[0]?.n), 6)
  })
}

/** A row of every column type, to hold PostgreSQL's binary arrays (`postgres/binary.ts`) to the values given. */
interface TypedRow { readonly key: string, readonly int: number | null, readonly big: bigint | null, readonly real: number | null, readonly double: number | null, readonly ts: number | null, readonly instant: number | null, readonly json: string | null }

const typedTable = defineTable<TypedRow>()({
  name: 'typed_rows',
  columns: {
    k: { type: ColumnTypes.TEXT, length: 40 },
    i: { type: ColumnTypes.INTEGER, nullable: true },
    b: { type: ColumnTypes.BIGINT, nullable: true },
    r: { type: ColumnTypes.REAL, nullable: true },
    d: { type: ColumnTypes.DOUBLE, nullable: true },
    ts: { type: ColumnTypes.TIMESTAMP, nullable: true },
    at: { type: ColumnTypes.INSTANT, nullable: true },
    j: { type: ColumnTypes.JSON, nullable: true }
  },
  unique: { name: 'uq_typed_k', columns: ['k'] },
  indexes: [],
  values: r => ({ k: r.key, i: r.int, b: r.big, r: r.real, d: r.double, ts: r.ts, at: r.instant, j: r.json })
})

test('postgres: every column type goes in as a binary array and reads back exactly, nulls and limits included', async t => {
  const db = await freshDatabase(t, 'postgres')
  if (db === undefined) return
  const store = openTableStore(connection(db.url), typedTable)
  t.after(() => store.close())
  await store.ensureTable()
  const given: TypedRow[] = [
    { key: 'limits-low', int: -(2 ** 31), big: -(2n ** 63n), real: -3.4e38, double: -Number.MAX_VALUE, ts: Date.UTC(1969, 11, 31, 23, 59, 59, 999), instant: Date.UTC(1000, 0, 1), json: '{"a":[1,2]}' },
    { key: 'limits-high', int: 2 ** 31 - 1, big: 2n ** 63n - 1n, real: 0.1, double: Number.MIN_VALUE, ts: Date.UTC(9999, 11, 31, 23, 59, 59, 999), instant: Date.UTC(2000, 0, 1, 0, 0, 0, 1), json: '"ü ✓ 😀"' },
    { key: 'numbers', int: 0, big: 2n ** 53n + 1n, real: 1.5, double: 0.1 + 0.2, ts: Date.UTC(2026, 11, 6, 9, 1, 2, 345), instant: Date.UTC(1999, 11, 31, 23, 59, 59, 999), json: null },
    { key: 'nulls', int: null, big: null, real: null, double: null, ts: null, instant: null, json: null },
    { key: 'ümlaut "quoted" \\ {a,b} NULL', int: -1, big: -1n, real: Number.NaN, double: Number.POSITIVE_INFINITY, ts: 0, instant: 0, json: '{}' }
  ]
  assert.equal(await store.insert(given), given.length)
  assert.equal(await store.insert(given), 0)
  const read = await db.query(`SELECT k, i, b::text AS b, r::float8 AS r, d::text AS d,
    to_char(ts, 'YYYY-MM-DD HH24:MI:SS.MS') AS ts, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.MS') AS at, j::text AS j FROM typed_rows`)
  const byKey = new Map(read.map(r => [r.k, r]))
  const text = (ms: number | null): string | null => ms === null ? null : new Date(ms).toISOString().replace('T', ' ').slice(0, 23).replace(/^\+0*/, '')
  for (const g of given) {
    const r = byKey.get(g.key)
    assert.ok(r !== undefined, g.key)
    assert.equal(r.i, g.int, `${g.key} integer`)
    assert.equal(r.b, g.big === null ? null : String(g.big), `${g.key} bigint`)
    assert.equal(r.r, g.real === null ? null : Math.fround(g.real), `${g.key} real`)
    assert.equal(r.d === null ? null : Number(r.d), g.double, `${g.key} double`)
    assert.equal(r.ts, text(g.ts), `${g.key} timestamp`)
    assert.equal(r.at, text(g.instant), `${g.key} instant`)
    assert.equal(r.j === null ? null : JSON.stringify(JSON.parse(r.j as string)), g.json === null ? null : JSON.stringify(JSON.parse(g.json)), `${g.key} json`)
  }
  // A value its column cannot hold fails the whole batch with what it was, as the server would.
  await assert.rejects(store.insert([{ key: 'fine', int: 1, big: 1n, real: 1, double: 1, ts: 0, instant: 0, json: null }, { key: 'half', int: 1.5, big: 1n, real: 1, double: 1, ts: 0, instant: 0, json: null }]), /1\.5 is not a value of a integer column/)
  await assert.rejects(store.insert([{ key: 'late', int: 1, big: 1n, real: 1, double: 1, ts: Number.NaN, instant: 0, json: null }]), /NaN is not a value of a timestamp column/)
  assert.equal((await db.query('SELECT COUNT(*)::int AS n FROM typed_rows'))[0]?.n, given.length)
})
