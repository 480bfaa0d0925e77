import assert from 'node:assert/strict'
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { buildApi, type ProfileReader } from '../../src/api/index.ts'
import { loadChurnArtifact, ModelHolder, saveArtifact, shippedChurnModelPath } from '../../src/churn/index.ts'
import type { Transaction } from '../../src/events/index.ts'
import { applyTransaction, emptyAccount, factsOf, FRAUD_FEATURES, featureRecord, fraudFeatures, FraudScorer, shippedFraudModelPath, type AccountProfile } from '../../src/fraud/index.ts'
import { createLogger } from '../../src/logging/index.ts'
import { applyEvent, emptyProfile, profileEventOf } from '../../src/profile/index.ts'
import { TransactionStream } from '../../src/simulator/index.ts'
import { waitFor } from '../helpers/wait.ts'
import { background } from '../helpers/services.ts'
import { Rng } from '../../src/util/rng.ts'

const silent = createLogger({ level: 'silent', format: 'json' })

async function app (t: TestContext, extra: { apiKey?: string, profiles?: ProfileReader, bodyLimit?: number } = {}): Promise<{ api: ReturnType<typeof buildApi>, models: ModelHolder, dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'churnflow-api-'))
  const path = join(dir, 'churn-model.json')
  await copyFile(shippedChurnModelPath, path)
  const models = new ModelHolder(path, silent)
  const api = buildApi({ models, log: silent, fraud: { current: FraudScorer.fromFile(shippedFraudModelPath) }, ...extra })
  t.after(async () => {
    models.close()
    await api.close()
    await rm(dir, { recursive: true, force: true })
  })
  return { api, models, dir }
}

const seedBody = '{"user_id": 999, "event_type": "bounce", "timestamp": "2024-01-15T10:30:00Z", "metadata": {}}'

test('the churn prediction consumer\'s request, byte for byte, gets the churn prediction consumer\'s answer: a churn_score between 0 and 1', async t => {
  const { api, models } = await app(t)
  const response = await api.inject({ method: 'POST', url: '/predict-churn', headers: { 'Content-Type': 'application/json' }, payload: seedBody })
  assert.equal(response.statusCode, 200)
  assert.match(response.headers['content-type'] as string, /^application\/json/)
  const body = response.json() as Record<string, unknown>
  assert.equal(typeof body.churn_score, 'number')
  assert.ok((body.churn_score as number) >= 0 && (body.churn_score as number) <= 1)
  assert.equal(body.model_version, models.current.version)
  assert.equal(body.user_id, 999)
  assert.equal(body.profile, 'event alone')
  assert.ok(['low', 'medium', 'high', 'critical'].includes(body.risk_band as string))
  assert.ok(Array.isArray(body.reasons) && (body.reasons as unknown[]).length <= 3)
  // the churn prediction consumer's example: {"user_id": 123, "event_type": "bounce", "timestamp": ..., "metadata": {"page": "/checkout", "session_length": 1.2}}
  const example = await api.inject({ method: 'POST', url: '/predict-churn', payload: { user_id: 123, event_type: 'bounce', timestamp: '2024-01-15T10:30:00Z', metadata: { page: '/checkout', session_length: 1.2 } } })
  assert.equal(example.statusCode, 200)
})

test('a profile store makes one event score with the customer\'s history', async t => {
  const history = emptyProfile()
  const day = 86_400_000
  for (let d = 0; d < 60; d += 2) applyEvent(history, profileEventOf({ event_type: 'order_placed', timestamp: new Date(Date.UTC(2024, 0, 1) + d * day).toISOString(), data: { order_value: 80 } })!)
  const profiles: ProfileReader = { name: 'test-map', get: async id => (id === 'CUST-001' ? history : undefined), ping: async () => undefined }
  const { api } = await app(t, { profiles })
  const body = { event_type: 'product_view', timestamp: '2024-03-01T10:00:00Z', metadata: { session_length: 5 } }
  const known = (await api.inject({ method: 'POST', url: '/predict-churn', payload: { ...body, user_id: 'CUST-001' } })).json() as { churn_score: number, profile: string }
  const unknown = (await api.inject({ method: 'POST', url: '/predict-churn', payload: { ...body, user_id: 'CUST-002' } })).json() as { churn_score: number, profile: string }
  assert.equal(known.profile, 'profile')
  assert.equal(unknown.profile, 'event alone')
  assert.ok(known.churn_score < unknown.churn_score, `a loyal buyer (${known.churn_score}) scores below a stranger (${unknown.churn_score})`)
  const health = (await api.inject({ method: 'GET', url: '/health' })).json() as { profile_store: string }
  assert.equal(health.profile_store, 'test-map: up')
})

test('the batch route scores many events in one round trip, in order', async t => {
  const { api } = await app(t)
  const events = Array.from({ length: 50 }, (_, i) => ({ user_id: i, event_type: i % 2 === 0 ? 'bounce' : 'checkout', timestamp: '2024-01-15T10:30:00Z' }))
  const response = await api.inject({ method: 'POST', url: '/predict-churn/batch', payload: { events } })
  assert.equal(response.statusCode, 200)
  const body = response.json() as { predictions: { user_id: number, churn_score: number }[] }
  assert.deepEqual(body.predictions.map(p => p.user_id), events.map(e => e.user_id))
  const bad = await api.inject({ method: 'POST', url: '/predict-churn/batch', payload: { events: [events[0], { ...events[1], timestamp: 'soon' }] } })
  assert.equal(bad.statusCode, 400)
  assert.equal((bad.json() as { field: string }).field, 'events[1].timestamp')
})

test('POST /predict scores a transaction (the fraud streaming consumer) with a fraud score and a label', async t => {
  const { api } = await app(t)
  const response = await api.inject({ method: 'POST', url: '/predict', payload: { transaction_id: 'tx-1', account_id: 'ACC-1', amount: 19.99, timestamp: '2024-01-15T10:30:00Z', merchant_category: 'grocery', channel: 'pos', country: 'DE', currency: 'EUR' } })
  assert.equal(response.statusCode, 200)
  const body = response.json() as { transaction_id: string, fraud_score: number, prediction: string }
  assert.equal(body.transaction_id, 'tx-1')
  assert.ok(body.fraud_score >= 0 && body.fraud_score <= 1)
  assert.ok(['fraud', 'legit'].includes(body.prediction))
  const missing = await api.inject({ method: 'POST', url: '/predict', payload: { transaction_id: 'tx-1', amount: 19.99, timestamp: '2024-01-15T10:30:00Z' } })
  assert.equal(missing.statusCode, 400)
  assert.equal((missing.json() as { field: string }).field, 'account_id')
})

test('POST /predict/batch scores many transactions in order, each with the account features its caller sends', async t => {
  const { api } = await app(t)
  const fraud = FraudScorer.fromFile(shippedFraudModelPath)
  const start = Date.UTC(2025, 0, 1)
  const stream = new TransactionStream(new Rng(17), { accounts: 40, fraudRate: 0.05, start, end: start + 30 * 86_400_000 })
  const history = new Map<string, AccountProfile>()
  const transactions: Record<string, unknown>[] = []
  const expected: number[] = []
  for (let i = 0; i < 300; i++) {
    const tx = stream.next()!.value as Transaction
    const facts = factsOf(tx)!
    const account = history.get(String(tx.account_id)) ?? emptyAccount()
    // Half the batch carries the account's features before the transaction (as the fraud pipeline
    // sends them), half is scored on an empty account.
    const carry = i % 2 === 0
    expected.push(fraud.score(carry ? account : emptyAccount(), facts).fraud_score)
    const x = new Float64Array(FRAUD_FEATURES)
    fraudFeatures(account, facts, x)
    transactions.push(carry ? { ...tx, account: featureRecord(x) } : tx)
    applyTransaction(account, facts)
    history.set(String(tx.account_id), account)
  }
  const response = await api.inject({ method: 'POST', url: '/predict/batch', payload: { transactions } })
  assert.equal(response.statusCode, 200, response.body.slice(0, 300))
  const body = response.json() as { model_version: string, predictions: { transaction_id: string, fraud_score: number, prediction: string, account: string }[] }
  assert.equal(body.model_version, fraud.artifact.model_version)
  assert.deepEqual(body.predictions.map(p => p.transaction_id), transactions.map(tx => tx.transaction_id))
  assert.deepEqual(body.predictions.map(p => p.fraud_score), expected)
  assert.deepEqual(body.predictions.map(p => p.account), transactions.map((_tx, i) => i % 2 === 0 ? 'request' : 'empty account'))
  // The history matters: some transactions score differently with it than on an empty account.
  const alone = transactions.filter((_tx, i) => i % 2 === 0).map(tx => fraud.score(emptyAccount(), factsOf(tx as Transaction)!).fraud_score)
  assert.notDeepEqual(alone, expected.filter((_s, i) => i % 2 === 0))
  // One transaction alone, through POST /predict, scores as the batch scores it without an account.
  const single = (await api.inject({ method: 'POST', url: '/predict', payload: transactions[1] })).json() as { fraud_score: number }
  assert.equal(single.fraud_score, expected[1])
})

test('POST /predict/batch refuses a bad body with 400 and the field it is about', async t => {
  const { api } = await app(t)
  const tx = { transaction_id: 'tx-1', account_id: 'ACC-1', amount: 19.99, timestamp: '2024-01-15T10:30:00Z', merchant_category: 'grocery', channel: 'pos', country: 'DE', currency: 'EUR' }
  const x = new Float64Array(FRAUD_FEATURES)
  fraudFeatures(emptyAccount(), factsOf(tx)!, x)
  const account = featureRecord(x)
  const cases: { name: string, payload: unknown, field: string | undefined }[] = [
    { name: 'no transactions', payload: {}, field: 'transactions' },
    { name: 'an empty list', payload: { transactions: [] }, field: 'transactions' },
    { name: 'a missing account_id', payload: { transactions: [tx, { ...tx, account_id: undefined }] }, field: 'transactions[1].account_id' },
    { name: 'a negative amount', payload: { transactions: [{ ...tx, amount: -1 }] }, field: 'transactions[0].amount' },
    { name: 'a date that is none', payload: { transactions: [tx, tx, { ...tx, timestamp: '2024-02-30T10:30:00Z' }] }, field: 'transactions[2].timestamp' },
    { name: 'a feature of the wrong type', payload: { transactions: [{ ...tx, account: { ...account, log_amount: 'three' } }] }, field: 'transactions[0].account.log_amount' },
    { name: 'an account without its velocities', payload: { transactions: [{ ...tx, account: { log_amount: 1 } }] }, field: 'transactions[0].account.amount_z' },
    { name: 'over the batch limit', payload: { transactions: Array.from({ length: 1001 }, () => tx) }, field: 'transactions' }
  ]
  for (const c of cases) {
    const response = await api.inject({ method: 'POST', url: '/predict/batch', payload: c.payload as Record<string, unknown> })
    assert.equal(response.statusCode, 400, `${c.name}: ${response.body.slice(0, 300)}`)
    const body = response.json() as { error: string, message: string, field?: string }
    assert.equal(body.error, 'invalid_request', c.name)
    assert.equal(body.field, c.field, `${c.name}: ${body.message}`)
  }
  const ok = await api.inject({ method: 'POST', url: '/predict/batch', payload: { transactions: [{ ...tx, account }] } })
  assert.equal(ok.statusCode, 200, ok.body)
})

test('without a fraud model both fraud routes answer 503', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'churnflow-api-'))
  const models = new ModelHolder(shippedChurnModelPath, silent)
  const api = buildApi({ models, log: silent, ownsResources: true })
  t.after(async () => { await api.close(); await rm(dir, { recursive: true, force: true }) })
  const tx = { transaction_id: 'tx-1', account_id: 'ACC-1', amount: 5, timestamp: '2024-01-15T10:30:00Z' }
  for (const [url, payload] of [['/predict', tx], ['/predict/batch', { transactions: [tx] }]] as const) {
    const response = await api.inject({ method: 'POST', url, payload })
    assert.equal(response.statusCode, 503)
    assert.equal((response.json() as { error: string }).error, 'no_fraud_model')
  }
})

test('closing the API closes what it owns (the model watcher, the profile store), and only that', async () => {
  for (const owns of [true, false]) {
    let closed = 0
    const profiles: ProfileReader = { name: 'counting', get: async () => undefined, ping: async () => undefined, close: async () => { closed++ } }
    const models = new ModelHolder(shippedChurnModelPath, silent)
    {
      await using api = buildApi({ models, log: silent, profiles, ...(owns ? { ownsResources: true } : {}) })
      assert.equal((await api.inject({ method: 'GET', url: '/health' })).statusCode, 200)
    }
    assert.equal(closed, owns ? 1 : 0, `ownsResources ${owns}`)
    models.close()
  }
})

test('malformed bodies never get a 500: each gets a 4xx JSON error that names the problem', async t => {
  const { api } = await app(t, { bodyLimit: 64 * 1024 })
  const valid = { user_id: 1, event_type: 'bounce', timestamp: '2024-01-15T10:30:00Z', metadata: {} }
  const cases: { name: string, payload: string, type?: string, status: number, field?: string }[] = [
    { name: 'user_id of the wrong type', payload: JSON.stringify({ ...valid, user_id: true }), status: 400, field: 'user_id' },
    { name: 'negative user_id', payload: JSON.stringify({ ...valid, user_id: -5 }), status: 400, field: 'user_id' },
    { name: 'event_type a number', payload: JSON.stringify({ ...valid, event_type: 7 }), status: 400, field: 'event_type' },
    { name: 'missing event_type', payload: JSON.stringify({ user_id: 1, timestamp: valid.timestamp }), status: 400, field: 'event_type' },
    { name: 'missing timestamp', payload: JSON.stringify({ user_id: 1, event_type: 'bounce' }), status: 400, field: 'timestamp' },
    { name: 'missing user_id', payload: JSON.stringify({ event_type: 'bounce', timestamp: valid.timestamp }), status: 400, field: 'user_id' },
    { name: 'metadata a string', payload: JSON.stringify({ ...valid, metadata: 'x' }), status: 400, field: 'metadata' },
    { name: 'huge user_id string', payload: JSON.stringify({ ...valid, user_id: 'u'.repeat(10_000) }), status: 400, field: 'user_id' },
    { name: 'huge event_type', payload: JSON.stringify({ ...valid, event_type: 'e'.repeat(5000) }), status: 400, field: 'event_type' },
    { name: 'invalid date', payload: JSON.stringify({ ...valid, timestamp: '2024-02-30T10:30:00Z' }), status: 400, field: 'timestamp' },
    { name: 'not a date', payload: JSON.stringify({ ...valid, timestamp: 'yesterday at noon' }), status: 400, field: 'timestamp' },
    { name: 'timestamp a number', payload: JSON.stringify({ ...valid, timestamp: 1705314600 }), status: 400, field: 'timestamp' },
    { name: 'unknown event type', payload: JSON.stringify({ ...valid, event_type: 'teleport' }), status: 422, field: 'event_type' },
    { name: '__proto__ key', payload: '{"__proto__": {"polluted": true}, "user_id": 1, "event_type": "bounce", "timestamp": "2024-01-15T10:30:00Z"}', status: 400 },
    { name: 'constructor.prototype key', payload: '{"constructor": {"prototype": {"polluted": true}}, "user_id": 1, "event_type": "bounce", "timestamp": "2024-01-15T10:30:00Z"}', status: 400 },
    { name: 'deep nesting', payload: `{"user_id": 1, "event_type": "bounce", "timestamp": "2024-01-15T10:30:00Z", "metadata": {"a": ${'['.repeat(20_000)}${']'.repeat(20_000)}}}`, status: 400 },
    { name: 'not JSON', payload: 'user_id=1&event_type=bounce', status: 400 },
    { name: 'truncated JSON', payload: '{"user_id": 1, "event_type": "bou', status: 400 },
    { name: 'JSON array', payload: '[1, 2, 3]', status: 400 },
    { name: 'JSON null', payload: 'null', status: 400 },
    { name: 'empty body', payload: '', status: 400 },
    { name: 'text/plain', payload: seedBody, type: 'text/plain', status: 415 },
    { name: 'over the body limit', payload: JSON.stringify({ ...valid, metadata: { blob: 'x'.repeat(100 * 1024) } }), status: 413 }
  ]
  for (const c of cases) {
    const response = await api.inject({ method: 'POST', url: '/predict-churn', headers: { 'content-type': c.type ?? 'application/json' }, payload: c.payload })
    assert.equal(response.statusCode, c.status, `${c.name}: ${response.body.slice(0, 300)}`)
    const body = response.json() as { error: string, message: string, field?: string }
    assert.equal(typeof body.error, 'string', c.name)
    assert.equal(typeof body.message, 'string', c.name)
    if (c.field !== undefined) assert.equal(body.field, c.field, `${c.name}: ${body.message}`)
  }
  assert.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype pollution')
  const metrics = (await api.inject({ method: 'GET', url: '/metrics' })).body
  assert.ok(!/churnflow_api_requests_total\{[^}]*status="5\d\d"/.test(metrics), 'no 5xx counted')
})

test('an API key guards every route but /health', async t => {
  const { api } = await app(t, { apiKey: 's3cret-key' })
  assert.equal((await api.inject({ method: 'POST', url: '/predict-churn', payload: seedBody, headers: { 'content-type': 'application/json' } })).statusCode, 401)
  assert.equal((await api.inject({ method: 'GET', url: '/model', headers: { 'x-api-key': 'wrong' } })).statusCode, 401)
  assert.equal((await api.inject({ method: 'GET', url: '/metrics' })).statusCode, 401)
  assert.equal((await api.inject({ method: 'GET', url: '/health' })).statusCode, 200)
  assert.equal((await api.inject({ method: 'POST', url: '/predict-churn', payload: seedBody, headers: { 'content-type': 'application/json', 'x-api-key': 's3cret-key' } })).statusCode, 200)
})

test('/health, /model and /metrics describe the service', async t => {
  const { api, models } = await app(t)
  await api.inject({ method: 'POST', url: '/predict-churn', payload: seedBody, headers: { 'content-type': 'application/json' } })
  const health = (await api.inject({ method: 'GET', url: '/health' })).json() as Record<string, unknown>
  assert.deepEqual([health.status, health.model_loaded, health.model_version], ['ok', true, models.current.version])
  const model = (await api.inject({ method: 'GET', url: '/model' })).json() as { features: string[], metrics: { test: { model: { roc_auc: number } } } }
  assert.equal(model.features.length, models.current.artifact.features.length)
  assert.ok(model.metrics.test.model.roc_auc > 0.5)
  const metrics = await api.inject({ method: 'GET', url: '/metrics' })
  assert.match(metrics.headers['content-type'] as string, /^text\/plain/)
  assert.match(metrics.body, /^churnflow_api_requests_total\{route="\/predict-churn",status="200"\} 1$/m)
  // One request timed (how long it took is the machine's business: a cold first call on a busy machine passes 10 ms).
  assert.match(metrics.body, /^churnflow_api_request_duration_seconds_bucket\{le="\+Inf",route="\/predict-churn"\} 1$/m)
  assert.match(metrics.body, /^churnflow_api_request_duration_seconds_count\{route="\/predict-churn"\} 1$/m)
  assert.match(metrics.body, /^churnflow_churn_score_count 1$/m)
  assert.match(metrics.body, new RegExp(`^churnflow_model_info\\{version="${models.current.version}"\\} 1$`, 'm'))
  assert.equal((await api.inject({ method: 'GET', url: '/nope' })).statusCode, 404)
})

test('a new model file is picked up under load without losing a request', async t => {
  const { api, models, dir } = await app(t)
  models.watch()
  await api.listen({ port: 0, host: '127.0.0.1' })
  const address = api.server.address()
  assert.ok(address !== null && typeof address === 'object')
  const url = `http://127.0.0.1:${address.port}/predict-churn`
  const before = models.current.version
  const versions = new Set<string>()
  let ok = 0
  let failed = 0
  let running = true
  const worker = async (): Promise<void> => {
    while (running) {
      try {
        const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: seedBody })
        if (response.status === 200) {
          ok++
          versions.add(((await response.json()) as { model_version: string }).model_version)
        } else {
          failed++
        }
      } catch {
        failed++
      }
    }
  }
  const workers = Array.from({ length: 16 }, worker)
  // Conditions, not durations: requests are flowing before the swap, and go on flowing after it.
  await waitFor('100 answers before the new model', async () => ok + failed >= 100)
  const artifact = loadChurnArtifact(join(dir, 'churn-model.json'))
  await saveArtifact(join(dir, 'churn-model.json'), { ...artifact, model_version: 'churn-reloaded-test' })
  await waitFor('the new model file picked up', async () => models.current.version !== before)
  const answered = ok + failed
  await waitFor('100 answers from the new model', async () => versions.has('churn-reloaded-test') && ok + failed >= answered + 100)
  running = false
  await Promise.all(workers)
  assert.equal(models.current.version, 'churn-reloaded-test')
  assert.equal(failed, 0)
  assert.ok(ok > 100, `${ok} requests answered`)
  assert.deepEqual([...versions].sort(), [before, 'churn-reloaded-test'].sort())

  // A broken file leaves the working model serving.
  await saveArtifact(join(dir, 'churn-model.json'), { format: 'broken' })
  assert.equal(models.reload('test'), false)
  assert.equal(models.current.version, 'churn-reloaded-test')
  assert.ok((await readFile(join(dir, 'churn-model.json'), 'utf8')).includes('broken'))
})

test('churnflow api --port 0 listens on a port the OS picks and prints where', async t => {
  const api = background(t, ['api', '--port', '0'], { CHURNFLOW_STATE_DIR: tmpdir(), LOG_LEVEL: 'info' })
  let url: string | undefined
  await waitFor('the scoring API\'s start line', async () => {
    url = /Scoring API on (http:\/\/127\.0\.0\.1:(\d+))/.exec(api.output())?.[1]
    return url !== undefined
  }, 60_000)
  assert.doesNotMatch(url ?? '', /:0$/, 'the port it listens on, not the one asked for')
  const health = await fetch(`${url ?? ''}/health`)
  assert.equal(health.status, 200)
})
