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
