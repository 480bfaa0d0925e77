import { join, resolve } from 'node:path'
import type { Config } from '../config/index.ts'
import { ChurnflowError, ErrorCodes } from '../errors.ts'
import type { Logger } from '../logging/index.ts'
import { MysqlPredictionStore } from './mysql.ts'
import { PostgresPredictionStore } from './postgres.ts'
import { SqlitePredictionStore } from './sqlite.ts'
import type { PredictionStore } from './types.ts'

/** The part of `Config` that says where predictions go. */
export type SqlConnection = Pick<Config, 'databaseUrl' | 'dbHost' | 'dbPort' | 'dbUser' | 'dbPassword' | 'dbName' | 'stateDir'>

export interface OpenPredictionStoreOptions {
  /** `churn_predictions` when not given. */
  readonly table?: string
  readonly log?: Logger
}

/** The SQLite file a bare churnflow uses. */
export function defaultSqlitePath (stateDir: string): string {
  return join(stateDir, 'churnflow.db')
}

/**
 * `sqlite:/abs/file.db`, `sqlite:///abs/file.db`, `sqlite:relative.db` (from the working
 * directory) or `sqlite::memory:`. Taken from the raw text: URL parsing would percent-encode the path.
 */
export function sqlitePath (databaseUrl: string): string {
  let rest = databaseUrl.slice('sqlite:'.length)
  if (rest.startsWith('//')) rest = rest.slice(2)
  rest = rest.replace(/[?#].*$/, '')
  if (rest === ':memory:') return rest
  if (rest === '') throw new ChurnflowError(ErrorCodes.CONFIG_INVALID, `DATABASE_URL ${databaseUrl} names no SQLite file`)
  return resolve(decodeURIComponent(rest))
}

/** The options every backend shares, leaving out those not given. */
function shared (options: OpenPredictionStoreOptions): { table?: string, log?: Logger } {
  return { ...(options.table === undefined ? {} : { table: options.table }), ...(options.log === undefined ? {} : { log: options.log }) }
}

function fromUrl (databaseUrl: string, options: OpenPredictionStoreOptions): PredictionStore {
  const common = shared(options)
  const protocol = databaseUrl.slice(0, databaseUrl.indexOf(':') + 1).toLowerCase()
  switch (protocol) {
    case 'sqlite:':
      return new SqlitePredictionStore({ path: sqlitePath(databaseUrl), ...common })
    case 'postgres:':
    case 'postgresql:':
      return new PostgresPredictionStore({ url: databaseUrl, ...common })
    case 'mysql:':
    case 'mariadb:': {
      const url = new URL(databaseUrl)
      const database = decodeURIComponent(url.pathname.replace(/^\//, ''))
      return new MysqlPredictionStore({
        host: url.hostname === '' ? '127.0.0.1' : url.hostname.replace(/^\[(.*)\]$/, '$1'),
        port: url.port === '' ? 3306 : Number(url.port),
        user: url.username === '' ? 'root' : decodeURIComponent(url.username),
        password: decodeURIComponent(url.password),
        database: database === '' ? 'churn_db' : database,
        ...common
      })
    }
    default:
      throw new ChurnflowError(ErrorCodes.CONFIG_INVALID,
        `DATABASE_URL must start with mysql://, mariadb://, postgres://, postgresql:// or sqlite:, not ${protocol === '' ? 'nothing' : protocol}`)
  }
}

/**
 * The prediction store the configuration names: DATABASE_URL when set, else MySQL at DB_HOST
 * when that is set (seed 000's settings), else SQLite at `<stateDir>/churnflow.db`. Nothing is
 * connected yet; `ensureTable()` is the first round trip.
 */
export function openPredictionStore (config: SqlConnection, options: OpenPredictionStoreOptions = {}): PredictionStore {
  if (config.databaseUrl !== undefined) return fromUrl(config.databaseUrl, options)
  const common = shared(options)
  if (config.dbHost !== undefined) {
    return new MysqlPredictionStore({
      host: config.dbHost,
      port: config.dbPort,
      user: config.dbUser,
      password: config.dbPassword,
      database: config.dbName,
      ...common
    })
  }
  return new SqlitePredictionStore({ path: defaultSqlitePath(config.stateDir), ...common })
}
