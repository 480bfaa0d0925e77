import { fraudSettings } from '../../src/fraud/index.ts'
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import {
  configKeys, configSchema, describeConfig, loadConfig, renderConfigTable, renderEnvExample
} from '../../src/config/index.ts'
import { ChurnflowError, ErrorCodes } from '../../src/errors.ts'
import { repoRoot } from '../helpers/services.ts'

async function tempDir (t: { after (fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'churnflow-config-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  return dir
}

function problems (fn: () => unknown): string[] {
  try {
    fn()
  } catch (error) {
    assert.ok(error instanceof ChurnflowError)
    assert.equal(error.code, ErrorCodes.CONFIG_INVALID)
    assert.equal(error.exitCode, 2)
    return [...error.details]
  }
  assert.fail('expected the configuration to be rejected')
}

test('defaults apply when nothing is set', () => {
  const { config, sources } = loadConfig({ env: { HOME: '/home/u' }, envFile: false })
  assert.deepEqual(config.kafkaBrokers, ['127.0.0.1:9092'])
  assert.equal(config.userEventsTopic, 'user-events')
  assert.equal(config.customerEventsTopic, 'customer-events')
  assert.equal(config.predictionsTopic, 'churn-predictions')
  assert.equal(config.groupId, 'churn-consumer-group')
  assert.equal(config.producerInterval, 3)
  assert.equal(config.apiTimeout, 10)
  assert.equal(config.dbName, 'churn_db')
  assert.equal(config.dbPort, 3306)
  assert.equal(config.scoringApiUrl, undefined)
  assert.equal(config.stateDir, '/home/u/.local/state/churnflow')
  assert.equal(config.cacheDir, '/home/u/.cache/churnflow')
  assert.equal(sources.kafkaBrokers.layer, 'default')
})

test('precedence: flag, then environment, then .env file, then default', async t => {
  const dir = await tempDir(t)
  await writeFile(join(dir, '.env'), 'KAFKA_BROKER=file:1\nKAFKA_TOPIC=from-file\nDB_NAME=file_db\n')
  const env = { KAFKA_BROKER: 'env:2', KAFKA_TOPIC: 'from-env' }
  const loaded = loadConfig({ cwd: dir, env, flags: { kafkaBrokers: 'flag:3' } })
  assert.deepEqual(loaded.config.kafkaBrokers, ['flag:3'])
  assert.equal(loaded.sources.kafkaBrokers.layer, 'flag')
  assert.equal(loaded.config.userEventsTopic, 'from-env')
  assert.equal(loaded.sources.userEventsTopic.layer, 'environment')
  assert.equal(loaded.config.dbName, 'file_db')
  assert.equal(loaded.sources.dbName.layer, '.env file')
  assert.equal(loaded.config.dbUser, 'root')
  assert.equal(loaded.sources.dbUser.layer, 'default')
  assert.equal(loaded.envFile, join(dir, '.env'))
})

test('the environment beats the .env file even when each uses another of the seeds\' names', async t => {
  const dir = await tempDir(t)
  await writeFile(join(dir, '.env'), 'KAFKA_BROKER=file:1\n')
  const { config, sources } = loadConfig({ cwd: dir, env: { KAFKA_BOOTSTRAP_SERVERS: 'env:2' } })
  assert.deepEqual(config.kafkaBrokers, ['env:2'])
  assert.deepEqual(sources.kafkaBrokers, { layer: 'environment', name: 'KAFKA_BOOTSTRAP_SERVERS' })
})

test('every spelling the seeds use is read', () => {
  const cases: [Record<string, string>, keyof typeof configSchema, unknown][] = [
    [{ KAFKA_BROKER: 'kafka:29092' }, 'kafkaBrokers', ['kafka:29092']],
    [{ KAFKA_BOOTSTRAP_SERVERS: 'a:1,b:2' }, 'kafkaBrokers', ['a:1', 'b:2']],
    [{ FLASK_API_URL: 'http://flask-api:5000' }, 'scoringApiUrl', 'http://flask-api:5000'],
    [{ API_URL: 'http://localhost:5000' }, 'scoringApiUrl', 'http://localhost:5000'],
    [{ ML_API_URL: 'http://ml-api:8000' }, 'scoringApiUrl', 'http://ml-api:8000'],
    [{ KAFKA_GROUP_ID: 'g1' }, 'groupId', 'g1'],
    [{ KAFKA_CONSUMER_GROUP: 'transaction-consumer-group' }, 'groupId', 'transaction-consumer-group'],
    [{ KAFKA_TOPIC: 'user-events' }, 'userEventsTopic', 'user-events'],
    [{ KAFKA_TOPIC_CUSTOMER_EVENTS: 'ce' }, 'customerEventsTopic', 'ce'],
    [{ KAFKA_TOPIC_CHURN_PREDICTIONS: 'cp' }, 'predictionsTopic', 'cp'],
    [{ KAFKA_ERROR_TOPIC: 'transactions-failed' }, 'errorTopic', 'transactions-failed'],
    [{ DATABASE_URL: 'postgresql://user:password@postgres:5432/transactions' }, 'databaseUrl', 'postgresql://user:password@postgres:5432/transactions'],
    [{ DB_HOST: 'mysql' }, 'dbHost', 'mysql'],
    [{ DB_PORT: '3307' }, 'dbPort', 3307],
    [{ DB_USER: 'churn' }, 'dbUser', 'churn'],
    [{ DB_PASSWORD: 'yourpassword' }, 'dbPassword', 'yourpassword'],
    [{ DB_NAME: 'churn_db' }, 'dbName', 'churn_db'],
    [{ REDIS_HOST: 'localhost' }, 'redisHost', 'localhost'],
    [{ REDIS_PORT: '6380' }, 'redisPort', 6380],
    [{ REDIS_PASSWORD: 's3cret' }, 'redisPassword', 's3cret'],
    [{ PRODUCER_INTERVAL: '3.0' }, 'producerInterval', 3],
    [{ BATCH_SIZE: '100' }, 'batchSize', 100],
    [{ MAX_RETRIES: '3' }, 'maxRetries', 3],
    [{ RETRY_BACKOFF: '2' }, 'retryBackoff', 2],
    [{ LOG_LEVEL: 'DEBUG' }, 'logLevel', 'debug'],
    [{ LOG_LEVEL: 'WARNING' }, 'logLevel', 'warn'],
    [{ LOG_LEVEL: 'CRITICAL' }, 'logLevel', 'fatal']
  ]
  for (const [env, key, expected] of cases) {
    assert.deepEqual(loadConfig({ env, envFile: false }).config[key], expected, JSON.stringify(env))
  }
})

test('two spellings with different values: the first-listed wins, with a warning', () => {
  const loaded = loadConfig({ env: { KAFKA_BROKER: 'a:1', KAFKA_BOOTSTRAP_SERVERS: 'b:2' }, envFile: false })
  assert.deepEqual(loaded.config.kafkaBrokers, ['a:1'])
  assert.equal(loaded.warnings.length, 1)
  assert.match(loaded.warnings[0]!, /KAFKA_BROKER and KAFKA_BOOTSTRAP_SERVERS are both set/)
  assert.deepEqual(loadConfig({ env: { KAFKA_BROKER: 'a:1', KAFKA_BOOTSTRAP_SERVERS: 'a:1' }, envFile: false }).warnings, [])
})

test('each invalid value is one line naming the variable, the value and what is allowed', () => {
  const cases: [Record<string, string>, string][] = [
    [{ KAFKA_BROKER: 'nohost' }, 'KAFKA_BROKER="nohost" is invalid: expected host:port[,host:port...] with ports from 1 to 65535'],
    [{ KAFKA_BOOTSTRAP_SERVERS: 'a:99999' }, 'KAFKA_BOOTSTRAP_SERVERS="a:99999" is invalid: expected host:port'],
    [{ KAFKA_PARTITIONS: 'abc' }, 'KAFKA_PARTITIONS="abc" is invalid: expected a whole number from 1 to 10000'],
    [{ KAFKA_PARTITIONS: '0' }, 'KAFKA_PARTITIONS="0" is invalid: expected a whole number from 1 to 10000'],
    [{ KAFKA_REPLICATION_FACTOR: 'two' }, 'KAFKA_REPLICATION_FACTOR="two" is invalid: expected auto, or a whole number from 1 to 32'],
    [{ KAFKA_COMPRESSION: 'brotli' }, 'KAFKA_COMPRESSION="brotli" is invalid: expected one of none, gzip, snappy, lz4, zstd'],
    [{ KAFKA_TOPIC: 'bad topic' }, 'KAFKA_TOPIC="bad topic" is invalid: expected 1 to 249 characters'],
    [{ FLASK_API_URL: 'localhost:5000' }, 'FLASK_API_URL="localhost:5000" is invalid: expected a URL starting with http:// or https://'],
    [{ ML_API_URL: 'ftp://x' }, 'ML_API_URL="ftp://x" is invalid: expected a URL starting with http:// or https://'],
    [{ DB_PORT: '-1' }, 'DB_PORT="-1" is invalid: expected a whole number from 1 to 65535'],
    [{ PRODUCER_INTERVAL: '0' }, 'PRODUCER_INTERVAL="0" is invalid: expected a number above 0'],
    [{ KAFKA_TLS: 'maybe' }, 'KAFKA_TLS="maybe" is invalid: expected true or false'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL="loud" is invalid: expected one of trace, debug, info, warn, error, fatal, silent'],
    [{ DATABASE_URL: 'oracle://x/y' }, 'DATABASE_URL="oracle://x/y" is invalid: expected a URL starting with mysql://']
  ]
  for (const [env, expected] of cases) {
    const lines = problems(() => loadConfig({ env, envFile: false }))
    assert.equal(lines.length, 1, JSON.stringify(env))
    assert.ok(lines[0]!.startsWith(expected), `${lines[0]!}\n  should start with\n${expected}`)
  }
})

test('all problems are reported at once, and flags and .env values say where they came from', async t => {
  const dir = await tempDir(t)
  await writeFile(join(dir, '.env'), 'DB_PORT=port\n')
  const lines = problems(() => loadConfig({ cwd: dir, env: { BATCH_SIZE: 'lots' }, flags: { partitions: 'x' } }))
  assert.deepEqual(lines, [
    '--partitions="x" is invalid: expected a whole number from 1 to 10000',
    'DB_PORT (in .env file)="port" is invalid: expected a whole number from 1 to 65535',
    'BATCH_SIZE="lots" is invalid: expected a whole number from 1 to 100000'
  ])
})

test('passwords never appear in errors, warnings or the effective configuration', () => {
  const secret = 'hunter2-secret'
  const lines = problems(() => loadConfig({
    env: { DATABASE_URL: `mysql://root:${secret}@db:99999/x`, KAFKA_SASL_PASSWORD: secret },
    envFile: false
  }))
  assert.equal(lines.length, 2)
  for (const line of lines) assert.ok(!line.includes(secret), line)

  const loaded = loadConfig({
    env: {
      DATABASE_URL: `mysql://root:${secret}@db:3306/churn_db`,
      DB_PASSWORD: secret,
      REDIS_PASSWORD: secret,
      API_KEY: secret,
      KAFKA_SASL_MECHANISM: 'plain',
      KAFKA_SASL_USERNAME: 'user',
      KAFKA_SASL_PASSWORD: secret,
      REDIS_HOST: 'a',
      DB_HOST: 'db'
    },
    envFile: false
  })
  assert.equal(loaded.config.dbPassword, secret)
  const shown = [...describeConfig(loaded), ...loaded.warnings].join('\n')
  assert.ok(!shown.includes(secret), shown)
  assert.match(shown, /DATABASE_URL=mysql:\/\/root:\*\*\*@db:3306\/churn_db/)
  assert.match(shown, /DB_PASSWORD=\*\*\*/)
})

test('an explicit .env file that does not exist is an error; a missing default one is not', async t => {
  const dir = await tempDir(t)
  assert.throws(() => loadConfig({ cwd: dir, env: {}, envFile: 'nope.env' }), (e: unknown) => e instanceof ChurnflowError && e.code === ErrorCodes.ENV_FILE && e.exitCode === 2)
  assert.equal(loadConfig({ cwd: dir, env: {} }).envFile, undefined)
})

test('.env.example and the README table are generated from the schema and up to date', async () => {
  assert.equal(await readFile(join(repoRoot, '.env.example'), 'utf8'), renderEnvExample(),
    '.env.example is stale: node bin/churnflow.js config --format env-example > .env.example')
  const readme = await readFile(join(repoRoot, 'README.md'), 'utf8')
  const start = readme.indexOf('<!-- config-table:start -->')
  const end = readme.indexOf('<!-- config-table:end -->')
  assert.ok(start >= 0 && end > start, 'README.md needs the config-table markers')
  assert.equal(readme.slice(start + '<!-- config-table:start -->\n'.length, end), renderConfigTable(),
    'the README configuration table is stale: node bin/churnflow.js config --format markdown')
  for (const key of configKeys) assert.ok(renderEnvExample().includes(`\n${configSchema[key].env[0]}=`), key)
})

test('the fraud pipeline: its own group and batch size, the fraud streaming consumer\'s defaults, churn\'s untouched', () => {
  const defaults = fraudSettings(loadConfig({ env: {}, envFile: false }).config)
  assert.deepEqual({ ...defaults, retry: undefined }, {
    sourceTopic: 'transactions',
    deadLetterTopic: 'transactions-failed',
    group: 'transaction-consumer-group',
    batchSize: 100,
    predictionsTopic: 'fraud-predictions',
    alertsTopic: 'fraud-alerts',
    scoringApiUrl: undefined,
    retry: undefined,
    apiTimeoutMs: 10_000
  })
  assert.deepEqual([defaults.retry.maxRetries, defaults.retry.factor], [3, 2])
  // The fraud streaming consumer's own variables.
  const { config } = loadConfig({
    env: { KAFKA_TOPIC_TRANSACTIONS: 'tx', KAFKA_ERROR_TOPIC: 'tx-errors', ML_API_URL: 'http://ml-api:8000', BATCH_SIZE: '250', MAX_RETRIES: '5', RETRY_BACKOFF: '3', KAFKA_CONSUMER_GROUP: 'churners' },
    envFile: false
  })
  const seed = fraudSettings(config)
  assert.deepEqual([seed.sourceTopic, seed.deadLetterTopic, seed.scoringApiUrl, seed.batchSize, seed.retry.maxRetries, seed.retry.factor], ['tx', 'tx-errors', 'http://ml-api:8000', 250, 5, 3])
  // KAFKA_CONSUMER_GROUP stays the churn group's; the fraud group has its own name.
  assert.equal(config.groupId, 'churners')
  assert.equal(seed.group, 'transaction-consumer-group')
  assert.equal(config.batchSize, 250)
  const own = loadConfig({ env: { FRAUD_CONSUMER_GROUP: 'fraud-a', FRAUD_BATCH_SIZE: '50', KAFKA_TOPIC_FRAUD_PREDICTIONS: 'fp', KAFKA_TOPIC_FRAUD_ALERTS: 'fa' }, envFile: false })
  const s = fraudSettings(own.config)
  assert.deepEqual([s.group, s.batchSize, s.predictionsTopic, s.alertsTopic, own.config.groupId, own.config.batchSize], ['fraud-a', 50, 'fp', 'fa', 'churn-consumer-group', 500])
  assert.equal(loadConfig({ env: {}, envFile: false, flags: { fraudGroupId: 'by-flag' } }).config.fraudGroupId, 'by-flag')
})
