import { homedir } from 'node:os'
import { join } from 'node:path'
import { customerEventTypes } from '../events/schemas.ts'
import {
  durationList,
  between, boolean, decimal, someOf, hostPortList, integer, oneOf, replicationFactor, text, topicName, url, urlList, words,
  type Kind
} from './kinds.ts'

/** How a value must be hidden when it is shown: all of it, or the password inside a URL. */
export const Sensitivity = {
  SECRET: 'secret',
  URL_CREDENTIALS: 'url-credentials'
} as const
export type SensitivityValue = (typeof Sensitivity)[keyof typeof Sensitivity]

interface SettingBase<T> {
  /** Environment names, the preferred one first; the others are the original components' spellings. */
  readonly env: readonly [string, ...string[]]
  /** Command-line flag, without the leading dashes. */
  readonly flag?: string
  readonly kind: Kind<T>
  readonly group: string
  readonly doc: string
  readonly sensitive?: SensitivityValue
}

export interface RequiredSetting<T> extends SettingBase<T> {
  readonly required: true
  /** The default as raw text, parsed by `kind` like any other value, or computed at load time. */
  readonly default: string | ((env: Readonly<Record<string, string | undefined>>) => string)
  /** How the default reads in the reference, where it is computed. */
  readonly defaultDoc?: string
}

export interface OptionalSetting<T> extends SettingBase<T> {
  readonly required: false
  /** What it means to leave the setting unset. */
  readonly unsetDoc: string
}

export type Setting<T> = RequiredSetting<T> | OptionalSetting<T>

function setting<T> (s: Omit<RequiredSetting<T>, 'required'>): RequiredSetting<T> {
  return { ...s, required: true }
}

function optional<T> (s: Omit<OptionalSetting<T>, 'required'>): OptionalSetting<T> {
  return { ...s, required: false }
}

const xdg = (env: Readonly<Record<string, string | undefined>>, name: string, fallback: string): string =>
  (env[name] !== undefined && env[name] !== '') ? env[name] : join(env.HOME ?? homedir(), fallback)

/**
 * The one schema of churnflow's configuration. The `Config` type, validation, `.env.example`
 * and the README's configuration table are all derived from it.
 */
export const configSchema = {
  // Kafka
  kafkaBrokers: setting({
    env: ['KAFKA_BROKER', 'KAFKA_BOOTSTRAP_SERVERS'],
    flag: 'broker',
    kind: hostPortList(),
    default: '127.0.0.1:9092',
    group: 'Kafka',
    doc: 'Bootstrap brokers. The default is where `churnflow kafka start` runs its local broker.'
  }),
  kafkaClientId: setting({ env: ['KAFKA_CLIENT_ID'], kind: text(), default: 'churnflow', group: 'Kafka', doc: 'Client id sent to the brokers.' }),
  userEventsTopic: setting({ env: ['KAFKA_TOPIC'], flag: 'topic', kind: topicName(), default: 'user-events', group: 'Kafka', doc: 'User behaviour events (the churn prediction consumer and both producers).' }),
  customerEventsTopic: setting({ env: ['KAFKA_TOPIC_CUSTOMER_EVENTS'], kind: topicName(), default: 'customer-events', group: 'Kafka', doc: 'Customer events (the Kafka event system).' }),
  transactionsTopic: setting({ env: ['KAFKA_TOPIC_TRANSACTIONS'], kind: topicName(), default: 'transactions', group: 'Kafka', doc: 'Payment transactions for the fraud pipeline (the fraud streaming consumer).' }),
  predictionsTopic: setting({ env: ['KAFKA_TOPIC_CHURN_PREDICTIONS'], kind: topicName(), default: 'churn-predictions', group: 'Kafka', doc: 'One record per churn prediction.' }),
  alertsTopic: setting({ env: ['KAFKA_TOPIC_CHURN_ALERTS'], kind: topicName(), default: 'churn-alerts', group: 'Kafka', doc: 'Critical events and high-risk crossings.' }),
  errorTopic: optional({ env: ['KAFKA_ERROR_TOPIC'], kind: topicName(), group: 'Kafka', doc: 'Dead-letter topic for poison records.', unsetDoc: '`<source topic>-failed`' }),
  groupId: setting({ env: ['KAFKA_GROUP_ID', 'KAFKA_CONSUMER_GROUP'], flag: 'group', kind: text(), default: 'churn-consumer-group', group: 'Kafka', doc: 'Consumer group of the processors.' }),
  fraudGroupId: setting({
    env: ['FRAUD_CONSUMER_GROUP'],
    flag: 'fraud-group',
    kind: text(),
    default: 'transaction-consumer-group',
    group: 'Kafka',
    doc: 'Consumer group of the fraud pipeline (the fraud streaming consumer\'s default). Its own setting: KAFKA_CONSUMER_GROUP names the churn group.'
  }),
  fraudPredictionsTopic: setting({ env: ['KAFKA_TOPIC_FRAUD_PREDICTIONS'], kind: topicName(), default: 'fraud-predictions', group: 'Kafka', doc: 'One record per scored transaction, keyed by account id.' }),
  fraudAlertsTopic: setting({ env: ['KAFKA_TOPIC_FRAUD_ALERTS'], kind: topicName(), default: 'fraud-alerts', group: 'Kafka', doc: 'One record per transaction scored `fraud`, keyed by account id.' }),
  partitions: setting({ env: ['KAFKA_PARTITIONS'], flag: 'partitions', kind: integer(1, 10000), default: '3', group: 'Kafka', doc: 'Partitions of the topics churnflow creates.' }),
  replicationFactor: setting({ env: ['KAFKA_REPLICATION_FACTOR'], flag: 'replication-factor', kind: replicationFactor(), default: 'auto', group: 'Kafka', doc: 'Replication of the topics churnflow creates; `auto` is 3, or the broker count when smaller.' }),
  compression: setting({ env: ['KAFKA_COMPRESSION'], flag: 'compression', kind: oneOf(['none', 'gzip', 'snappy', 'lz4', 'zstd']), default: 'lz4', group: 'Kafka', doc: 'Compression of produced records.' }),
  lingerMs: setting({ env: ['KAFKA_LINGER_MS'], flag: 'linger-ms', kind: integer(0, 60000), default: '5', group: 'Kafka', doc: 'Milliseconds `produce` and `up` hold a batch for more records before sending it (as the Java producer\'s linger.ms); 0 sends each at once.' }),
  saslMechanism: optional({ env: ['KAFKA_SASL_MECHANISM'], kind: oneOf(['plain', 'scram-sha-256', 'scram-sha-512']), group: 'Kafka', doc: 'SASL mechanism.', unsetDoc: 'no SASL' }),
  saslUsername: optional({ env: ['KAFKA_SASL_USERNAME'], kind: text(), group: 'Kafka', doc: 'SASL user name.', unsetDoc: 'none' }),
  saslPassword: optional({ env: ['KAFKA_SASL_PASSWORD'], kind: text(), group: 'Kafka', doc: 'SASL password.', unsetDoc: 'none', sensitive: Sensitivity.SECRET }),
  kafkaTls: setting({ env: ['KAFKA_TLS'], kind: boolean(), default: 'false', group: 'Kafka', doc: 'Connect to the brokers over TLS.' }),

  // Scoring API
  scoringApiUrl: optional({
    env: ['FLASK_API_URL', 'API_URL', 'ML_API_URL'],
    flag: 'api-url',
    kind: url(['http:', 'https:']),
    group: 'Scoring API',
    doc: 'Score through this scoring API instead of in process (the churn prediction consumer FLASK_API_URL, the Kafka event system API_URL, the fraud streaming consumer ML_API_URL).',
    unsetDoc: 'score in process'
  }),
  apiHost: setting({ env: ['API_HOST'], flag: 'host', kind: text(), default: '127.0.0.1', group: 'Scoring API', doc: 'Address `churnflow api` listens on.' }),
  apiPort: setting({ env: ['API_PORT'], flag: 'port', kind: integer(0, 65535), default: '5000', group: 'Scoring API', doc: 'Port `churnflow api` listens on (the seeds\' Flask port); 0 picks a free one.' }),
  apiKey: optional({ env: ['API_KEY'], kind: text(), group: 'Scoring API', doc: 'When set, every route but /health needs this key in the x-api-key header.', unsetDoc: 'no key', sensitive: Sensitivity.SECRET }),
  apiTimeout: setting({ env: ['API_TIMEOUT'], kind: decimal(0, 600), default: '10', group: 'Scoring API', doc: 'Seconds to wait for the scoring API (the churn prediction consumer: 10).' }),

  churnModel: optional({ env: ['CHURN_MODEL'], flag: 'model', kind: text(), group: 'Scoring API', doc: 'Churn model artifact (churnflow train writes one).', unsetDoc: 'the model shipped in models/churn-model.json' }),

  // SQL
  databaseUrl: optional({
    env: ['DATABASE_URL'],
    flag: 'database-url',
    kind: url(['mysql:', 'mariadb:', 'postgres:', 'postgresql:', 'sqlite:']),
    group: 'SQL',
    doc: 'Where predictions are stored: mysql://, mariadb://, postgres:// or sqlite:. Takes precedence over DB_HOST.',
    unsetDoc: 'MySQL at DB_HOST when that is set, else SQLite in the state directory',
    sensitive: Sensitivity.URL_CREDENTIALS
  }),
  dbHost: optional({ env: ['DB_HOST'], kind: text(), group: 'SQL', doc: 'MySQL/MariaDB host (the churn prediction consumer).', unsetDoc: 'not MySQL' }),
  dbPort: setting({ env: ['DB_PORT'], kind: integer(1, 65535), default: '3306', group: 'SQL', doc: 'MySQL/MariaDB port.' }),
  dbUser: setting({ env: ['DB_USER'], kind: text(), default: 'root', group: 'SQL', doc: 'MySQL/MariaDB user.' }),
  dbPassword: setting({ env: ['DB_PASSWORD'], kind: text({ allowEmpty: true }), default: '', group: 'SQL', doc: 'MySQL/MariaDB password.', sensitive: Sensitivity.SECRET }),
  dbName: setting({ env: ['DB_NAME'], kind: text(), default: 'churn_db', group: 'SQL', doc: 'MySQL/MariaDB database.' }),
  dbMigrate: setting({ env: ['DB_MIGRATE'], flag: 'db-migrate', kind: boolean(), default: 'true', group: 'SQL', doc: 'Run the SQL migrations (the fraud tables) when a pipeline starts. With false a pipeline whose tables are behind refuses to start, and `churnflow db migrate` brings them up to date (and churn_predictions).' }),

  // Redis
  redisHost: optional({ env: ['REDIS_HOST'], kind: text(), group: 'Redis', doc: 'Keep customer profiles in Redis at this host.', unsetDoc: 'profiles in process, per partition, backed by a changelog topic' }),
  redisPort: setting({ env: ['REDIS_PORT'], kind: integer(1, 65535), default: '6379', group: 'Redis', doc: 'Redis port.' }),
  redisKeyPrefix: setting({ env: ['REDIS_KEY_PREFIX'], kind: text(), default: 'churnflow:profile:', group: 'Redis', doc: 'Prefix of the profile hashes: one hash per customer at `<prefix><customer id>`.' }),
  redisPassword: optional({ env: ['REDIS_PASSWORD'], kind: text(), group: 'Redis', doc: 'Redis password.', unsetDoc: 'none', sensitive: Sensitivity.SECRET }),

  // Processing
  producerInterval: setting({ env: ['PRODUCER_INTERVAL'], flag: 'interval', kind: decimal(0, 86400), default: '3', group: 'Processing', doc: 'Seconds between simulated events at interval pace (the two random producers).' }),
  batchSize: setting({ env: ['BATCH_SIZE'], flag: 'batch-size', kind: integer(1, 100000), default: '500', group: 'Processing', doc: 'Most records a processor handles in one batch.' }),
  fraudBatchSize: setting({
    env: ['FRAUD_BATCH_SIZE', 'BATCH_SIZE'],
    kind: integer(1, 100000),
    default: '100',
    group: 'Processing',
    doc: 'Most transactions the fraud pipeline handles in one batch (one database write); BATCH_SIZE, when set, serves both pipelines.'
  }),
  commitIntervalMs: setting({ env: ['COMMIT_INTERVAL_MS'], kind: integer(0, 600000), default: '1000', group: 'Processing', doc: 'With the in-process profile store: how often its changes go to the changelog topic and offsets are committed after them, ms (at once when no more records wait).' }),
  stateCheckpointInterval: setting({ env: ['STATE_CHECKPOINT_INTERVAL'], kind: integer(1, 86400), default: '600', group: 'Processing', doc: 'Seconds between local checkpoints of the in-process profile store (also written when a partition leaves and on stop); they only make a restore faster.' }),
  maxRetries: setting({ env: ['MAX_RETRIES'], kind: integer(0, 100), default: '3', group: 'Processing', doc: 'Retries of a failed call to a dependency before its circuit opens.' }),
  retryBackoff: setting({ env: ['RETRY_BACKOFF'], kind: decimal(0, 10), default: '2', group: 'Processing', doc: 'Multiplier of the delay between retries (the fraud streaming consumer).' }),
  scoredCustomerEvents: setting({
    env: ['SCORED_CUSTOMER_EVENTS'],
    kind: someOf(customerEventTypes),
    default: 'order_placed,payment_failed,support_ticket_created,subscription_cancelled,cart_abandoned',
    group: 'Processing',
    doc: 'customer-events types that are scored (the Kafka event system\'s significant events); every user-event is scored. The others update the profile only.'
  }),
  alertThreshold: optional({ env: ['ALERT_THRESHOLD'], kind: between(0, 1), group: 'Processing', doc: 'A churn score at or above this enters the high-risk state and sends an alert.', unsetDoc: 'where the model\'s `high` risk band starts (0.6 for the shipped model)' }),
  alertHysteresis: setting({ env: ['ALERT_HYSTERESIS'], kind: between(0, 1), default: '0.1', group: 'Processing', doc: 'A customer leaves the high-risk state only below threshold minus this, so a hovering score does not flap.' }),
  alertCooldownHours: setting({ env: ['ALERT_COOLDOWN_HOURS'], kind: between(0, 8760), default: '24', group: 'Processing', doc: 'At most one alert per customer per this many hours of event time; 0 = no limit.' }),
  silenceSteps: setting({ env: ['SILENCE_STEPS'], kind: durationList(), default: '1d,2d,3d,5d,7d,10d,14d,21d,30d,45d,60d,90d', group: 'Processing', doc: 'Silence sweeps: a customer with no activity is re-scored as each of these lengths of silence passes (event time), stored as an `inactivity_check` prediction. `none` turns them off.' }),
  silenceLiveWindowHours: setting({ env: ['SILENCE_LIVE_WINDOW_HOURS'], kind: between(0, 8760), default: '24', group: 'Processing', doc: 'A partition whose latest event is at most this old is live: while it is idle, the wall clock moves its silence sweeps on. Older histories move them only with their events.' }),
  opsPort: setting({ env: ['OPS_PORT'], flag: 'ops-port', kind: integer(0, 65535), default: '3000', group: 'Processing', doc: 'Port of the ops endpoints (/health, /metrics, /stats); 0 picks a free one.' }),

  // Dashboard
  dashboardHost: setting({ env: ['DASHBOARD_HOST'], flag: 'dashboard-host', kind: text(), default: '127.0.0.1', group: 'Dashboard', doc: 'Address the dashboard listens on; any address but loopback needs DASHBOARD_KEY.' }),
  dashboardPort: setting({ env: ['DASHBOARD_PORT'], flag: 'dashboard-port', kind: integer(0, 65535), default: '8080', group: 'Dashboard', doc: 'Port of the dashboard; 0 picks a free one.' }),
  dashboardKey: optional({ env: ['DASHBOARD_KEY'], kind: text(), group: 'Dashboard', doc: 'Key every dashboard request must carry: as the basic-auth password (user DASHBOARD_USER), `Authorization: Bearer KEY` or `x-api-key`. Required off loopback.', unsetDoc: 'no key (loopback only)', sensitive: Sensitivity.SECRET }),
  dashboardUser: setting({ env: ['DASHBOARD_USER'], kind: text(), default: 'churnflow', group: 'Dashboard', doc: 'The basic-auth user name the dashboard asks for, with DASHBOARD_KEY as the password.' }),
  opsUrls: setting({ env: ['OPS_URLS'], flag: 'ops-url', kind: urlList(['http:', 'https:']), default: 'http://127.0.0.1:3000', group: 'Dashboard', doc: 'The processors\' ops endpoints the dashboard reads (/metrics, /stats, /health, and /customers for the current risk), comma-separated.' }),

  // Local runtime
  stateDir: setting({
    env: ['CHURNFLOW_STATE_DIR'],
    flag: 'state-dir',
    kind: text(),
    default: env => xdg(env, 'XDG_STATE_HOME', join('.local', 'state')) + '/churnflow',
    defaultDoc: '`$XDG_STATE_HOME/churnflow` (`~/.local/state/churnflow`)',
    group: 'Local runtime',
    doc: 'Where the local Kafka\'s data, the SQLite file and the state\'s checkpoints live.'
  }),
  cacheDir: setting({
    env: ['CHURNFLOW_CACHE_DIR'],
    kind: text(),
    default: env => xdg(env, 'XDG_CACHE_HOME', '.cache') + '/churnflow',
    defaultDoc: '`$XDG_CACHE_HOME/churnflow` (`~/.cache/churnflow`)',
    group: 'Local runtime',
    doc: 'Where the Apache Kafka jars downloaded from Maven Central are kept.'
  }),
  kafkaHeapOpts: setting({ env: ['KAFKA_HEAP_OPTS'], kind: words(), default: '-Xms256m -Xmx512m', group: 'Local runtime', doc: 'JVM heap of each local Kafka node (as in Kafka\'s own scripts).' }),
  logLevel: setting({
    env: ['LOG_LEVEL'],
    flag: 'log-level',
    kind: oneOf(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], { warning: 'warn', critical: 'fatal' }),
    default: 'info',
    group: 'Logging',
    doc: 'Log level; the seeds\' DEBUG, INFO, WARNING, ERROR and CRITICAL work too.'
  }),
  logFormat: setting({ env: ['LOG_FORMAT'], flag: 'log-format', kind: oneOf(['text', 'json']), default: 'text', group: 'Logging', doc: '`text` reads like the seeds\' logs; `json` is one JSON object a line.' })
} as const

export type ConfigSchema = typeof configSchema
export type ConfigKey = keyof ConfigSchema

type ValueOf<S> = S extends RequiredSetting<infer T> ? T : S extends OptionalSetting<infer T> ? T | undefined : never

/** The resolved configuration, derived from the schema so the two cannot drift. */
export type Config = { readonly [K in ConfigKey]: ValueOf<ConfigSchema[K]> }

export const configKeys = Object.keys(configSchema) as ConfigKey[]

export function settingOf (key: ConfigKey): Setting<unknown> {
  return configSchema[key] as Setting<unknown>
}
