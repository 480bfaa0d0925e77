import { ChurnScorer, shippedChurnModelPath } from '../churn/index.ts'
import type { Config } from '../config/index.ts'
import { createAdmin, describeCluster } from '../kafka/client/index.ts'
import { openProfileStore } from '../profile/index.ts'
import { HttpScorer } from '../processor/index.ts'
import { openPredictionStore } from '../sql/index.ts'
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
      const sources = [config.userEventsTopic, config.customerEventsTopic]
      const wanted = [...sources, config.predictionsTopic, config.alertsTopic, ...sources.map(s => deadLetterTopic(config, s))]
      const missing = [...new Set(wanted)].filter(t => !present.has(t))
      findings.push(missing.length === 0
        ? { ok: true, what: `topics present: ${[...new Set(wanted)].join(', ')}` }
        : { ok: true, warn: true, what: `topics missing: ${missing.join(', ')}`, fix: 'churnflow topics create (churnflow process also creates them at start)' })
    } finally {
      await admin.close().catch(() => undefined)
    }
    return findings
  } catch (error) {
    return [{ ok: false, what: `Kafka at ${where} does not answer (${message(error)})`, fix: 'start the local one with `churnflow kafka start`, or point KAFKA_BROKER at a running cluster' }]
  }
}

async function checkDatabase (config: Config): Promise<Finding[]> {
  const store = openPredictionStore(config)
  try {
    await store.ping()
    const state = await store.tableState()
    const table = state === 'ready'
      ? { ok: true, what: `table ${store.table} is ready (unique key on the Kafka coordinates)` }
      : state === 'missing'
        ? { ok: true, warn: true, what: `table ${store.table} does not exist yet`, fix: 'nothing to do: churnflow process creates it (the churn prediction consumer\'s DDL plus a unique key)' }
        : { ok: true, warn: true, what: `table ${store.table} has the churn prediction consumer's columns but no unique key on the Kafka coordinates`, fix: 'nothing to do: churnflow process adds the kafka_topic column and the key at start' }
    return [{ ok: true, what: `database ${store.name}: login works` }, table]
  } catch (error) {
    if (store.dialect === 'mysql' && /Unknown database/i.test(message(error))) {
      return [{ ok: true, warn: true, what: `${store.name}: the server answers, the database does not exist yet`, fix: 'nothing to do: churnflow process creates it and the table' }]
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

export const doctorCommand: Command = {
  name: 'doctor',
  summary: 'check every configured dependency (Kafka and topics, database and table, Redis, scoring API or model)',
  usage: 'churnflow doctor',
  help: 'Checks what the configuration points at, as the churn prediction consumer\'s test script does, and says how to fix what is wrong. Exit code 1 when something is.',
  async run ({ config, out }) {
    const findings = [
      ...(await checkKafka(config)),
      ...(await checkDatabase(config)),
      await checkProfiles(config),
      await checkScoring(config)
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
