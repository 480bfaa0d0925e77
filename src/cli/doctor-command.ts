import { ChurnScorer, shippedChurnModelPath } from '../churn/index.ts'
import type { Config } from '../config/index.ts'
import { FRAUD_BATCH_ROUTE, FraudScorer, fraudSettings, shippedFraudModelPath } from '../fraud/index.ts'
import { createAdmin, describeCluster } from '../kafka/client/index.ts'
import { openProfileStore } from '../profile/index.ts'
import { HttpScorer, postToScoringApi } from '../processor/index.ts'
import { migrationStatus, openPredictionStore, sqlTarget, TableStates, targetName, type PredictionStore } from '../sql/index.ts'
import type { Command } from './command.ts'
import { deadLetterTopic } from '../stream/index.ts'

interface Finding { readonly ok: boolean, readonly warn?: boolean, readonly what: string, readonly fix?: string }

const message = (error: unknown): string => (error as Error).message

async function checkKafka (config: Config): Promise<Finding[]> {
  const where = config.kafkaBrokers.join(',')
  try {
    const cluster = await describeCluster(config, 5000)
    const findings: Finding[] = [{ ok: true, what: `Kafka at ${where}: cluster ${cluster.clusterId}, ${cluster.brokers.length} broker(s)` }]
    const admin = createAdmin(config, { connectTimeout: 5000, timeout: 5000, retries: 0 })
    try {
      const present = new Set(await admin.listTopics())
      const churn = [config.userEventsTopic, config.customerEventsTopic]
      findings.push(topicsFinding('', present, [...churn, config.predictionsTopic, config.alertsTopic, ...churn.map(s => deadLetterTopic(config, s))], 'churnflow process'))
      const fraud = fraudSettings(config)
      findings.push(topicsFinding('fraud pipeline ', present, [fraud.sourceTopic, fraud.deadLetterTopic, fraud.predictionsTopic, fraud.alertsTopic], 'churnflow process --streams transactions'))
    } finally {
      await admin.close().catch(() => undefined)
    }
    return findings
  } catch (error) {
    return [{ ok: false, what: `Kafka at ${where} does not answer (${message(error)})`, fix: 'start the local one with `churnflow kafka start`, or point KAFKA_BROKER at a running cluster' }]
  }
}

/** Whether a pipeline's topics are all on the cluster. */
function topicsFinding (whose: string, present: ReadonlySet<string>, topics: readonly string[], creator: string): Finding {
  const wanted = [...new Set(topics)]
  const missing = wanted.filter(t => !present.has(t))
  return missing.length === 0
    ? { ok: true, what: `${whose}topics present: ${wanted.join(', ')}` }
    : { ok: true, warn: true, what: `${whose}topics missing: ${missing.join(', ')}`, fix: `churnflow topics create (${creator} also creates them at start)` }
}

/** The fraud tables (transactions, predictions): whether their migrations are applied. */
async function checkFraudTables (config: Config): Promise<Finding> {
  const name = targetName(sqlTarget(config))
  try {
    const migrations = await migrationStatus(config)
    const pending = migrations.filter(m => m.executedAt === undefined).map(m => m.name)
    if (pending.length === 0) return { ok: true, what: `fraud tables transactions and predictions in ${name}: ${migrations.length} migration(s) applied, up to date` }
    return {
      ok: true,
      warn: true,
      what: `fraud tables in ${name}: ${pending.length} of ${migrations.length} migration(s) pending (${pending.join(', ')})`,
      fix: config.dbMigrate
        ? 'churnflow db migrate applies them (churnflow process --streams transactions and churnflow up also do at start)'
        : 'churnflow db migrate applies them (DB_MIGRATE is false: the fraud pipeline refuses to start until then)'
    }
  } catch (error) {
    return { ok: false, what: `fraud tables in ${name}: ${message(error)}`, fix: 'churnflow db status shows the migrations; churnflow db migrate applies them' }
  }
}

/** What doctor says of churn_predictions: what a processor's start would do to it, if anything. */
async function tableFinding (store: PredictionStore): Promise<Finding> {
  const state = await store.tableState()
  if (state === TableStates.MISSING) {
    return { ok: true, warn: true, what: `table ${store.table} does not exist yet`, fix: 'nothing to do: churnflow process creates it (the churn prediction consumer\'s DDL plus a unique key)' }
  }
  if (state === TableStates.NEEDS_KEY) {
    return { ok: true, warn: true, what: `table ${store.table} has the churn prediction consumer's columns but no unique key on the Kafka coordinates`, fix: 'nothing to do: churnflow process adds the kafka_topic column and the key at start' }
  }
  const lacking = await store.missingIndexes()
  if (lacking.length > 0) {
    return { ok: true, warn: true, what: `table ${store.table} lacks ${lacking.length} index(es) the dashboard reads (${lacking.map(i => i.name).join(', ')})`, fix: 'churnflow db migrate adds them (churnflow process also does at start)' }
  }
  return { ok: true, what: `table ${store.table} is ready (unique key on the Kafka coordinates)` }
}

async function checkDatabase (config: Config): Promise<Finding[]> {
  const store = openPredictionStore(config)
  try {
    await store.ping()
    const table = await tableFinding(store)
    return [{ ok: true, what: `database ${store.name}: login works` }, table, await checkFraudTables(config)]
  } catch (error) {
    if (store.dialect === 'mysql' && /Unknown database/i.test(message(error))) {
      return [{ ok: true, warn: true, what: `${store.name}: the server answers, the database does not exist yet`, fix: 'nothing to do: churnflow process creates it and the table (churnflow db migrate creates it and the fraud tables)' }]
    }
    const hint = store.dialect === 'mysql'
      ? 'check MySQL/MariaDB runs and DB_HOST/DB_PORT/DB_USER/DB_PASSWORD (or DATABASE_URL); try: mysql -h HOST -u USER -p'
      : store.dialect === 'postgres' ? 'check PostgreSQL runs and DATABASE_URL; try: psql "$DATABASE_URL" -c "select 1"' : 'check the state directory is writable'
    return [{ ok: false, what: message(error).startsWith(store.name) ? message(error) : `database ${store.name}: ${message(error)}`, fix: hint }]
  } finally {
    await store.close().catch(() => undefined)
  }
}

async function checkProfiles (config: Config): Promise<Finding> {
  let store
  try {
    store = await openProfileStore(config, { prefix: config.redisKeyPrefix })
    await store.ping()
    return { ok: true, what: `profile store ${store.name} answers` }
  } catch (error) {
    return {
      ok: false,
      what: `profile store: ${message(error)}`,
      fix: config.redisHost === undefined ? 'check the state directory (CHURNFLOW_STATE_DIR) can be written' : `check Redis runs at ${config.redisHost}:${config.redisPort} (redis-cli -h ${config.redisHost} -p ${config.redisPort} ping) and REDIS_PASSWORD`
    }
  } finally {
    await store?.close().catch(() => undefined)
  }
}

async function checkScoring (config: Config): Promise<Finding> {
  if (config.scoringApiUrl !== undefined) {
    const scorer = new HttpScorer({ baseUrl: config.scoringApiUrl, timeoutMs: 5000, ...(config.apiKey === undefined ? {} : { apiKey: config.apiKey }) })
    try {
      await scorer.ping()
      return { ok: true, what: `scoring API ${config.scoringApiUrl}: /health answers` }
    } catch (error) {
      return { ok: false, what: message(error), fix: `start it with \`churnflow api\` (port 5000), or unset FLASK_API_URL/API_URL/ML_API_URL to score in process; check: curl ${config.scoringApiUrl}/health` }
    }
  }
  const path = config.churnModel ?? shippedChurnModelPath
  try {
    const scorer = ChurnScorer.fromFile(path)
    return { ok: true, what: `model ${scorer.version} loads from ${path} (scoring in process)` }
  } catch (error) {
    return { ok: false, what: `model ${path}: ${message(error)}`, fix: 'train one with `churnflow train`, or unset CHURN_MODEL to use the shipped model' }
  }
}

/** The fraud model, or the scoring API's fraud route when ML_API_URL (or its other spellings) is set. */
async function checkFraudScoring (config: Config): Promise<Finding> {
  const url = config.scoringApiUrl
  if (url === undefined) {
    try {
      const model = FraudScorer.fromFile(shippedFraudModelPath)
      return { ok: true, what: `fraud model ${model.artifact.model_version} loads from ${shippedFraudModelPath} (scoring in process)` }
    } catch (error) {
      return { ok: false, what: `fraud model ${shippedFraudModelPath}: ${message(error)}`, fix: 'reinstall churnflow: the fraud model ships with it' }
    }
  }
  const base = url.replace(/\/+$/, '')
  try {
    // An empty batch: a churnflow API refuses it (400) without scoring anything; a missing route is 404.
    const { status } = await postToScoringApi(base, FRAUD_BATCH_ROUTE, { transactions: [] }, {
      headers: { 'content-type': 'application/json', ...(config.apiKey === undefined ? {} : { 'x-api-key': config.apiKey }) },
      timeoutMs: 5000,
      signal: new AbortController().signal
    })
    if (status === 404 || status === 405) return { ok: false, what: `scoring API ${base} has no POST ${FRAUD_BATCH_ROUTE} (HTTP ${status}): the fraud pipeline cannot score through it`, fix: 'point ML_API_URL at a `churnflow api`, or unset it to score fraud in process' }
    if (status === 401 || status === 403 || status >= 500) return { ok: false, what: `scoring API ${base}: POST ${FRAUD_BATCH_ROUTE} answered HTTP ${status}`, fix: status >= 500 ? `check the API's log; curl ${base}/health` : 'set API_KEY to the key the API expects' }
    return { ok: true, what: `scoring API ${base}: POST ${FRAUD_BATCH_ROUTE} answers (fraud scoring)` }
  } catch (error) {
    return { ok: false, what: message(error), fix: `start it with \`churnflow api\`, or unset FLASK_API_URL/API_URL/ML_API_URL to score in process; check: curl ${base}/health` }
  }
}

export const doctorCommand: Command = {
  name: 'doctor',
  summary: 'check every configured dependency (Kafka and topics, database, table and fraud migrations, Redis, scoring API or models)',
  usage: 'churnflow doctor',
  help: [
    'Checks what the configuration points at, as the churn prediction consumer\'s test script does, and says how to fix',
    'what is wrong: Kafka and the topics of both pipelines (churn, and fraud: KAFKA_TOPIC_TRANSACTIONS, its dead-letter',
    'topic, the fraud predictions and alerts topics), the database, the churn table and the fraud tables\' migrations',
    '(churnflow db migrate applies them), Redis, and the scoring API (FLASK_API_URL/API_URL/ML_API_URL, its /health and',
    'POST /predict/batch) or the churn and fraud models in process. Exit code 1 when something is wrong.'
  ].join('\n'),
  async run ({ config, out }) {
    const scoring = await checkScoring(config)
    const findings = [
      ...(await checkKafka(config)),
      ...(await checkDatabase(config)),
      await checkProfiles(config),
      scoring,
      // A scoring API that does not answer is one problem, not one per route.
      ...(config.scoringApiUrl !== undefined && !scoring.ok ? [] : [await checkFraudScoring(config)])
    ]
    for (const f of findings) {
      out(`${f.ok ? (f.warn === true ? '⚠️ ' : '✅') : '❌'} ${f.what}`)
      if (f.fix !== undefined) out(`   fix: ${f.fix}`)
    }
    const bad = findings.filter(f => !f.ok).length
    out(bad === 0 ? 'Everything churnflow needs answers.' : `${bad} problem(s) found.`)
    return bad === 0 ? 0 : 1
  }
}
