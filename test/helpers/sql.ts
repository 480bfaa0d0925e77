import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import type { TestContext } from 'node:test'
import mysql from 'mysql2/promise'
import pg from 'pg'
import { unavailable } from './services.ts'

export interface StoredRow { user_id: string, event_type: string, churn_score: number, kafka_topic: string, kafka_partition: number, kafka_offset: number, metadata: unknown }

/** One SQL backend as tests see it: the DATABASE_URL churnflow gets, and direct reads to check what it wrote. */
export interface SqlBackend {
  readonly name: 'mariadb' | 'postgres' | 'sqlite'
  /** DATABASE_URL for churnflow, or undefined (after skipping) when the database cannot be reached. */
  url (t: TestContext): Promise<string | undefined>
  rows (url: string, table: string): Promise<StoredRow[]>
  /** Rows in the table; 0 when it does not exist yet. */
  count (url: string, table: string): Promise<number>
  drop (url: string, table: string): Promise<void>
}

const MARIADB = process.env.CHURNFLOW_TEST_MARIADB ?? 'mysql://root@127.0.0.1:3306/churnflow_test'
const POSTGRES = process.env.CHURNFLOW_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/postgres'

const order = (rows: StoredRow[]): StoredRow[] => rows
  .map(r => ({ ...r, kafka_partition: Number(r.kafka_partition), kafka_offset: Number(r.kafka_offset), churn_score: Number(r.churn_score), metadata: typeof r.metadata === 'string' ? JSON.parse(r.metadata) as unknown : r.metadata }))
  .sort((a, b) => a.kafka_topic.localeCompare(b.kafka_topic) || a.kafka_partition - b.kafka_partition || a.kafka_offset - b.kafka_offset)

const columns = 'user_id, event_type, churn_score, kafka_topic, kafka_partition, kafka_offset, metadata'

export const sqlBackends: readonly SqlBackend[] = [
  {
    name: 'mariadb',
    async url (t) {
      try {
        const c = await mysql.createConnection({ uri: MARIADB.replace(/\/[^/]*$/, '/'), connectTimeout: 3000 })
        await c.query('CREATE DATABASE IF NOT EXISTS churnflow_test')
        await c.end()
        return MARIADB
      } catch {
        unavailable(t, `MariaDB at ${MARIADB}`)
        return undefined
      }
    },
    async rows (url, table) {
      const c = await mysql.createConnection({ uri: url })
      try {
        const [rows] = await c.query(`SELECT ${columns} FROM \`${table}\``)
        return order(rows as StoredRow[])
      } finally { await c.end() }
    },
    async count (url, table) {
      try {
        const c = await mysql.createConnection({ uri: url })
        try {
          const [rows] = await c.query(`SELECT COUNT(*) AS n FROM \`${table}\``)
          return Number((rows as { n: number }[])[0]?.n ?? 0)
        } finally { await c.end() }
      } catch { return 0 }
    },
    async drop (url, table) {
      const c = await mysql.createConnection({ uri: url })
      try { await c.query(`DROP TABLE IF EXISTS \`${table}\``) } finally { await c.end() }
    }
  },
  {
    name: 'postgres',
    async url (t) {
      const client = new pg.Client({ connectionString: POSTGRES, connectionTimeoutMillis: 3000 })
      try {
        await client.connect()
        await client.end()
        return POSTGRES
      } catch {
        unavailable(t, `PostgreSQL at ${POSTGRES}`)
        return undefined
      }
    },
    async rows (url, table) {
      const client = new pg.Client({ connectionString: url })
      await client.connect()
      try {
        return order((await client.query(`SELECT ${columns} FROM "${table}"`)).rows as StoredRow[])
      } finally { await client.end() }
    },
    async count (url, table) {
      const client = new pg.Client({ connectionString: url })
      try {
        await client.connect()
        return Number((await client.query(`SELECT COUNT(*) AS n FROM "${table}"`)).rows[0]?.n ?? 0)
      } catch { return 0 } finally { await client.end().catch(() => undefined) }
    },
    async drop (url, table) {
      const client = new pg.Client({ connectionString: url })
      await client.connect()
      try { await client.query(`DROP TABLE IF EXISTS "${table}"`) } finally { await client.end() }
    }
  },
  {
    name: 'sqlite',
    async url (t) {
      const dir = mkdtempSync(join(tmpdir(), 'churnflow-sqlite-'))
      t.after(() => { rmSync(dir, { recursive: true, force: true }) })
      return `sqlite:${join(dir, 'predictions.db')}`
    },
    async rows (url, table) {
      const db = new DatabaseSync(url.slice('sqlite:'.length), { readOnly: true })
      try {
        return order(db.prepare(`SELECT ${columns} FROM "${table}"`).all() as unknown as StoredRow[])
      } finally { db.close() }
    },
    async count (url, table) {
      try {
        const db = new DatabaseSync(url.slice('sqlite:'.length), { readOnly: true })
        try {
          return Number((db.prepare(`SELECT COUNT(*) AS n FROM "${table}"`).get() as { n: number }).n)
        } finally { db.close() }
      } catch { return 0 }
    },
    async drop () {
      // The directory goes with the test.
    }
  }
]

/** A table name no other test uses, valid in every dialect. */
export const tableName = (prefix: string): string => `${prefix}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`

/** A database of its own for one test, and plain SQL against it to read back what churnflow wrote. */
export interface FreshDatabase {
  readonly backend: SqlBackend['name']
  /** DATABASE_URL for churnflow. */
  readonly url: string
  query (sql: string): Promise<Record<string, unknown>[]>
}

/**
 * A new, empty database on the backend (a random PostgreSQL or MariaDB database, a SQLite file
 * in a temporary directory), dropped when the test ends; undefined (after skipping) when the
 * server cannot be reached.
 */
export async function freshDatabase (t: TestContext, backend: SqlBackend['name']): Promise<FreshDatabase | undefined> {
  const name = `cf_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`
  if (backend === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'churnflow-sqlite-'))
    const path = join(dir, 'churnflow.db')
    let db: DatabaseSync | undefined
    t.after(() => { db?.close(); rmSync(dir, { recursive: true, force: true }) })
    return {
      backend,
      url: `sqlite:${path}`,
      async query (sql) {
        db ??= new DatabaseSync(path, { timeout: 5000 })
        const statement = db.prepare(sql)
        return statement.columns().length > 0 ? statement.all() as Record<string, unknown>[] : (statement.run(), [])
      }
    }
  }
  if (backend === 'postgres') {
    const admin = new pg.Client({ connectionString: POSTGRES, connectionTimeoutMillis: 3000 })
    try {
      await admin.connect()
      await admin.query(`CREATE DATABASE ${name}`)
    } catch {
      await admin.end().catch(() => undefined)
      unavailable(t, `PostgreSQL at ${POSTGRES}`)
      return undefined
    }
    const url = new URL(POSTGRES)
    url.pathname = `/${name}`
    const client = new pg.Client({ connectionString: url.toString() })
    await client.connect()
    t.after(async () => {
      await client.end().catch(() => undefined)
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).finally(() => admin.end())
    })
    return { backend, url: url.toString(), async query (sql) { return (await client.query(sql)).rows as Record<string, unknown>[] } }
  }
  let admin: mysql.Connection
  try {
    admin = await mysql.createConnection({ uri: MARIADB.replace(/\/[^/]*$/, '/'), connectTimeout: 3000 })
    await admin.query(`CREATE DATABASE ${name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`)
  } catch {
    unavailable(t, `MariaDB at ${MARIADB}`)
    return undefined
  }
  const url = MARIADB.replace(/\/[^/]*$/, `/${name}`)
  const connection = await mysql.createConnection({ uri: url, dateStrings: true, supportBigNumbers: true, bigNumberStrings: true })
  await connection.query("SET time_zone = '+00:00'")
  t.after(async () => {
    await connection.end().catch(() => undefined)
    await admin.query(`DROP DATABASE IF EXISTS ${name}`).finally(() => admin.end())
  })
  return { backend, url, async query (sql) { return (await connection.query(sql))[0] as Record<string, unknown>[] } }
}
