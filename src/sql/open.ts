import { join, resolve } from 'node:path'
import type { Config } from '../config/index.ts'
import { ChurnflowError, ErrorCodes } from '../errors.ts'
import type { Logger } from '../logging/index.ts'
import type { MysqlConnectionOptions } from './mysql/driver.ts'
import { MysqlFraudStore } from './mysql/fraud-store.ts'
import { MysqlPredictionStore, MysqlTableStore } from './mysql/table-store.ts'
import type { PostgresConnectionOptions } from './postgres/driver.ts'
import { PostgresFraudStore } from './postgres/fraud-store.ts'
import { PostgresPredictionStore, PostgresTableStore } from './postgres/table-store.ts'
import type { SqliteConnectionOptions } from './sqlite/driver.ts'
import { SqliteFraudStore } from './sqlite/fraud-store.ts'
import { SqlitePredictionStore, SqliteTableStore } from './sqlite/table-store.ts'
import type { TableSpec } from './spec.ts'
import { SqlDialects, type FraudStore, type PredictionStore, type TableStore } from './types.ts'

/** The part of `Config` that says where predictions go. */
export type SqlConnection = Pick<Config, 'databaseUrl' | 'dbHost' | 'dbPort' | 'dbUser' | 'dbPassword' | 'dbName' | 'stateDir'>

export interface OpenPredictionStoreOptions {
  /** `churn_predictions` when not given. */
  readonly table?: string
  readonly log?: Logger
}

/** The database a configuration names, as one dialect's connection options. */
export type SqlTarget =
  | { readonly dialect: typeof SqlDialects.MYSQL, readonly options: MysqlConnectionOptions }
  | { readonly dialect: typeof SqlDialects.POSTGRES, readonly options: PostgresConnectionOptions }
  | { readonly dialect: typeof SqlDialects.SQLITE, readonly options: SqliteConnectionOptions }

/** The SQLite file a bare churnflow uses. */
export function defaultSqlitePath (stateDir: string): string {
  return join(stateDir, 'churnflow.db')
}

/**
 * `sqlite:/abs/file.db`, `sqlite:///abs/file.db`, `sqlite:relative.db` (from the working
 * directory) or `sqlite::memory:`. Taken from the raw text: URL parsing would percent-encode the path.
 */
function sqlitePath (databaseUrl: string): string {
  let rest = databaseUrl.slice('sqlite:'.length)
  if (rest.startsWith('//')) rest = rest.slice(2)
  rest = rest.replace(/[?#].*$/, '')
  if (rest === ':memory:') return rest
  if (rest === '') throw new ChurnflowError(ErrorCodes.CONFIG_INVALID, `DATABASE_URL ${databaseUrl} names no SQLite file`)
  return resolve(decodeURIComponent(rest))
}

function fromUrl (databaseUrl: string): SqlTarget {
  const protocol = databaseUrl.slice(0, databaseUrl.indexOf(':') + 1).toLowerCase()
  switch (protocol) {
    case 'sqlite:':
      return { dialect: SqlDialects.SQLITE, options: { path: sqlitePath(databaseUrl) } }
    case 'postgres:':
    case 'postgresql:':
      return { dialect: SqlDialects.POSTGRES, options: { url: databaseUrl } }
    case 'mysql:':
    case 'mariadb:': {
      const url = new URL(databaseUrl)
      const database = decodeURIComponent(url.pathname.replace(/^\//, ''))
      return {
        dialect: SqlDialects.MYSQL,
        options: {
          host: url.hostname === '' ? '127.0.0.1' : url.hostname.replace(/^\[(.*)\]$/, '$1'),
          port: url.port === '' ? 3306 : Number(url.port),
          user: url.username === '' ? 'root' : decodeURIComponent(url.username),
          password: decodeURIComponent(url.password),
          database: database === '' ? 'churn_db' : database
        }
      }
    }
    default:
      throw new ChurnflowError(ErrorCodes.CONFIG_INVALID,
        `DATABASE_URL must start with mysql://, mariadb://, postgres://, postgresql:// or sqlite:, not ${protocol === '' ? 'nothing' : protocol}`)
  }
}

/**
 * The database the configuration names: DATABASE_URL when set, else MySQL at DB_HOST when that
 * is set (the churn prediction consumer's settings), else SQLite at `<stateDir>/churnflow.db`.
 */
export function sqlTarget (config: SqlConnection): SqlTarget {
  if (config.databaseUrl !== undefined) return fromUrl(config.databaseUrl)
  if (config.dbHost !== undefined) {
    return {
      dialect: SqlDialects.MYSQL,
      options: { host: config.dbHost, port: config.dbPort, user: config.dbUser, password: config.dbPassword, database: config.dbName }
    }
  }
  return { dialect: SqlDialects.SQLITE, options: { path: defaultSqlitePath(config.stateDir) } }
}

/**
 * The prediction store the configuration names (see `sqlTarget`). Nothing is connected yet;
 * `ensureTable()` is the first round trip.
 */
export function openPredictionStore (config: SqlConnection, options: OpenPredictionStoreOptions = {}): PredictionStore {
  const target = sqlTarget(config)
  const common = storeOptions(options)
  switch (target.dialect) {
    case SqlDialects.MYSQL: return new MysqlPredictionStore({ ...target.options, ...common })
    case SqlDialects.POSTGRES: return new PostgresPredictionStore({ ...target.options, ...common })
    case SqlDialects.SQLITE: return new SqlitePredictionStore({ ...target.options, ...common })
  }
}

function storeOptions (options: OpenPredictionStoreOptions): { table?: string, log?: Logger } {
  return { ...(options.table === undefined ? {} : { table: options.table }), ...(options.log === undefined ? {} : { log: options.log }) }
}

/**
 * A store for any table spec in the database the configuration names: `ensureTable()` creates or
 * adopts the table, `insert()` writes rows idempotently on its unique key. A new table is a spec
 * and this call, in every dialect.
 */
export function openTableStore<Row> (config: SqlConnection, spec: TableSpec<Row>, options: OpenPredictionStoreOptions = {}): TableStore<Row> {
  const target = sqlTarget(config)
  const common = storeOptions(options)
  switch (target.dialect) {
    case SqlDialects.MYSQL: return new MysqlTableStore(spec, { ...target.options, ...common })
    case SqlDialects.POSTGRES: return new PostgresTableStore(spec, { ...target.options, ...common })
    case SqlDialects.SQLITE: return new SqliteTableStore(spec, { ...target.options, ...common })
  }
}

/**
 * The fraud store the configuration names (see `sqlTarget`): the same database as the churn
 * predictions. Nothing is connected yet; run `migrate()` first.
 */
export function openFraudStore (config: SqlConnection, options: { readonly log?: Logger } = {}): FraudStore {
  const target = sqlTarget(config)
  switch (target.dialect) {
    case SqlDialects.MYSQL: return new MysqlFraudStore({ ...target.options, ...options })
    case SqlDialects.POSTGRES: return new PostgresFraudStore({ ...target.options, ...options })
    case SqlDialects.SQLITE: return new SqliteFraudStore(target.options)
  }
}
