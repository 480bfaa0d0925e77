import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { tmpdir } from 'node:os'
import { DatabaseSync } from 'node:sqlite'
import { loadConfig } from '../../src/config/index.ts'
import { assertSafeBind, buildDashboard, contentSecurityPolicy, dashboardOptions, histogram, openSqlReader, parsePrometheus, startDashboard, type DashboardOptions } from '../../src/dashboard/index.ts'
import { ErrorCodes, isChurnflowError } from '../../src/errors.ts'
import { createLogger } from '../../src/logging/index.ts'
import { openPredictionStore, type PredictionRow, type SqlConnection } from '../../src/sql/index.ts'
import { streamMetrics } from '../../src/stream/index.ts'
import Fastify from 'fastify'
import { customerRoutes } from '../../src/api/customer-routes.ts'
import { defaultBands } from '../../src/churn/index.ts'
import { CustomerReader } from '../../src/processor/index.ts'
import { emptyProfile, MemoryProfileStore, RiskTriggers, type ProfileRecord } from '../../src/profile/index.ts'
import { syntheticPredictions } from '../helpers/dashboard.ts'
import { cli } from '../helpers/services.ts'
import { sqlBackends, tableName } from '../helpers/sql.ts'

const log = createLogger({ level: 'silent', format: 'text', destination: { write: () => undefined } })
const XSS = '<script>alert(1)</script>'

/** Options for a dashboard on this database and table; Kafka and the ops endpoints point nowhere that answers. */
function options (databaseUrl: string, table: string, overrides: Partial<DashboardOptions> = {}): DashboardOptions {
  const { config } = loadConfig({ env: { DATABASE_URL: databaseUrl, KAFKA_BROKER: '127.0.0.1:1', OPS_URLS: 'http://127.0.0.1:1', CHURNFLOW_STATE_DIR: tmpdir() }, envFile: false })
  const base = dashboardOptions(config, log)
  return { ...base, tables: { ...base.tables, predictions: table }, ...overrides }
}

const connection = (databaseUrl: string): SqlConnection => ({ databaseUrl, dbHost: undefined, dbPort: 3306, dbUser: 'root', dbPassword: '', dbName: 'churn_db', stateDir: tmpdir() })

async function seed (databaseUrl: string, table: string): Promise<PredictionRow[]> {
  const store = openPredictionStore(connection(databaseUrl), { table })
  const end = Date.parse('2026-11-30T12:00:00Z')
  const rows = syntheticPredictions({ count: 3000, customers: 120, days: 30, end, seed: 7 })
  rows.push({ userId: XSS, eventType: 'add_to_cart', churnScore: 0.95, eventTime: end - 3 * 86_400_000, predictionTime: end, metadata: '{"note":"\\"; DROP TABLE x"}', topic: 'user-events', partition: 0, offset: 1_000_000n })
  rows.push({ userId: XSS, eventType: 'inactivity_check', churnScore: 0.9999, eventTime: end, predictionTime: end, metadata: null, topic: 'user-events/silence-3d', partition: 0, offset: 1_000_000n })
  // Tenure: first seen 400 and 90 days before the newest event, scored again lately.
  for (const [id, days, score] of [['veteran', 400, 0.97], ['regular', 90, 0.93]] as const) {
    rows.push({ userId: id, eventType: 'checkout', churnScore: 0.2, eventTime: end - days * 86_400_000, predictionTime: end, metadata: null, topic: 'user-events', partition: 1, offset: BigInt(2_000_000 + days) })
    rows.push({ userId: id, eventType: 'bounce', churnScore: score, eventTime: end - 86_400_000, predictionTime: end, metadata: null, topic: 'user-events', partition: 1, offset: BigInt(2_001_000 + days) })
  }
  try {
    await store.ensureTable()
    await store.insert(rows)
  } finally {
    await store.close()
  }
  return rows
}

/** Each customer's latest row (by insertion order, as ids are given), computed here from what was written. */
function latestByCustomer (rows: readonly PredictionRow[]): Map<string, PredictionRow> {
  const latest = new Map<string, PredictionRow>()
  for (const r of rows) latest.set(r.userId, r)
  return latest
}

interface AtRiskJson { customerId: string, score: number, band: string, daysSilent: number, changeSinceLastWeek: number | null, segment: string, tenureDays: number | null, trigger: string, reasons: unknown }
interface ChurnJson { atRisk: AtRiskJson[], source: { kind: string, answered?: number, asked?: number }, segments: { name: string }[], distribution: { bins: number[], streams: string[] } }

for (const backend of sqlBackends) {
  test(`dashboard on ${backend.name}: every view's data, ranked and filtered from SQL, read-only`, async t => {
    const url = await backend.url(t)
    if (url === undefined) return
    const table = tableName('dash')
    t.after(() => backend.drop(url, table))
    const rows = await seed(url, table)
    const app = buildDashboard(options(url, table))
    t.after(() => app.close())
    await app.ready()

    const churn = await app.inject({ url: '/api/churn?limit=20' })
    assert.equal(churn.statusCode, 200)
    const body = churn.json<ChurnJson>()
    assert.equal(body.source.kind, 'sql', 'no processor answers: the list is read from SQL')
    const latest = latestByCustomer(rows)
    const expected = [...latest.values()].map(r => r.churnScore).sort((a, b) => b - a).slice(0, 20)
    assert.deepEqual(body.atRisk.map(c => Math.round(c.score * 1000)), expected.map(s => Math.round(s * 1000)), 'ranked by each customer\'s latest score')
    for (const c of body.atRisk) assert.ok(Math.abs(c.score - (latest.get(c.customerId)?.churnScore ?? NaN)) < 1e-4, `${c.customerId} shows its latest score`)
    assert.equal(body.atRisk[0]?.customerId, XSS)
    assert.equal(body.atRisk[0]?.daysSilent, 3, 'silence counts from the last real event, not the inactivity check')
    assert.equal(body.atRisk[0]?.trigger, 'inactivity')
    assert.deepEqual(body.distribution.streams, ['customer-events', 'user-events'], 'an inactivity check counts for its stream (kafka_topic up to the /)')
    assert.equal(body.distribution.bins.reduce((a, b) => a + b, 0), rows.length)
    assert.deepEqual(body.segments.map(s => s.name), ['new', '1-6-months', '6-12-months', 'over-12-months'])

    // Segments are tenure, from each customer's first stored row, as of the newest event.
    const segment = async (query: string): Promise<AtRiskJson[]> => (await app.inject({ url: `/api/churn?${query}` })).json<ChurnJson>().atRisk
    assert.deepEqual((await segment('segment=over-12-months')).map(c => [c.customerId, c.tenureDays]), [['veteran', 400]])
    const months = await segment('segment=1-6-months')
    assert.ok(months.some(c => c.customerId === 'regular' && c.tenureDays === 90))
    assert.ok(months.every(c => c.segment === '1-6-months' && (c.tenureDays ?? 0) >= 30 && (c.tenureDays ?? 0) < 183))
    const medium = await segment('band=medium&segment=new&limit=30')
    assert.ok(medium.length > 0)
    for (const c of medium) {
      assert.equal(c.band, 'medium')
      assert.equal(c.segment, 'new')
    }
    assert.deepEqual(medium.map(c => c.score), medium.map(c => c.score).sort((a, b) => b - a))
    assert.equal((await app.inject({ url: '/api/churn?segment=customer-events' })).statusCode, 400, 'a segment is a tenure, not a stream')

    const customer = await app.inject({ url: `/api/customers/${encodeURIComponent(XSS)}` })
    const cj = customer.json<{ found: boolean, current: unknown, predictions: { eventType: string, score: number, stream: string, silenceStep: string | null }[] }>()
    assert.equal(cj.found, true)
    assert.equal(cj.current, null, 'no processor answers')
    assert.deepEqual(cj.predictions.map(p => [p.eventType, p.stream, p.silenceStep]), [['inactivity_check', 'user-events', '3d'], ['add_to_cart', 'user-events', null]], 'newest first, inactivity checks included with their step')

    const overview = (await app.inject({ url: '/api/overview' })).json<{ highRiskOverTime: unknown[], processors: { reachable: boolean }[] }>()
    assert.ok(overview.highRiskOverTime.length > 0)
    assert.equal(overview.processors[0]?.reachable, false)
    assert.equal((await app.inject({ url: '/api/fraud' })).json<{ present: boolean }>().present, false, 'no fraud tables: no fraud pipeline data')
    assert.match((await app.inject({ url: '/api/model' })).json<{ version: string }>().version, /^churn-/)

    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH'] as const) {
      assert.equal((await app.inject({ method, url: '/api/churn' })).statusCode, 405)
    }
    assert.equal(await backend.count(url, table), rows.length)

    const reader = openSqlReader(connection(url))
    t.after(() => reader.close())
    await assert.rejects(reader.all(`DELETE FROM ${table}`), 'the dashboard\'s reader cannot change data')
    assert.equal(await backend.count(url, table), rows.length)
  })
}

const DAY = 86_400_000

/** A customer as a processor holds it: first and last activity, and the current risk. */
function held (o: { firstSeen: number, lastSeen: number, score: number, at: number, trigger?: 'event' | 'inactivity' }): ProfileRecord {
  const profile = emptyProfile()
  profile.firstSeen = o.firstSeen
  profile.lastSeen = o.lastSeen
  profile.events = 3
  const band = [...defaultBands].reverse().find(b => o.score >= b.from)?.name ?? 'low'
  const risk = { score: o.score, band, modelVersion: 'churn-test', at: o.at, trigger: o.trigger ?? RiskTriggers.EVENT, reasons: [{ feature: 'days_since_last', value: 9, impact: 0.4 }] }
  return { profile, offsets: { 'user-events:0': 1 }, alert: { high: false, lastAt: 0 }, risk, version: 1 }
}

/** A processor's /customers routes over these customers, listening on port 0; resolves to its URL. */
async function processorWith (t: TestContext, customers: ReadonlyMap<string, ProfileRecord>, now: number): Promise<string> {
  const store = new MemoryProfileStore()
  for (const [id, record] of customers) store.set(id, record)
  const app = Fastify()
  void app.register(customerRoutes, { customers: new CustomerReader({ profiles: store, bands: () => defaultBands, now: () => now }) })
  t.after(() => app.close())
  return app.listen({ host: '127.0.0.1', port: 0 })
}

test('the at-risk list is the processors\' current risk when their routes answer: merged by score, filtered by band and tenure, the change since last week from SQL', async t => {
  const backend = sqlBackends.find(b => b.name === 'sqlite')
  const url = await backend?.url(t)
  if (url === undefined) return
  const table = tableName('dashproc')
  const rows = await seed(url, table)
  const end = Date.parse('2026-11-30T12:00:00Z')
  // Two processors, each holding half the customers; a third that does not answer.
  const holders = [new Map<string, ProfileRecord>(), new Map<string, ProfileRecord>()]
  const latest = latestByCustomer(rows)
  let i = 0
  for (const [id, r] of latest) {
    if (id === 'veteran' || id === 'regular') continue
    holders[i++ % 2]?.set(id, held({ firstSeen: end - 20 * DAY, lastSeen: r.eventTime, score: Math.min(0.9, r.churnScore), at: r.eventTime }))
  }
  holders[0]?.set('QUIET-1', held({ firstSeen: end - 90 * DAY, lastSeen: end - 10 * DAY, score: 0.96, at: end - 3 * DAY, trigger: 'inactivity' }))
  holders[1]?.set('veteran', held({ firstSeen: end - 400 * DAY, lastSeen: end - DAY, score: 0.95, at: end - DAY }))
  const urls = [await processorWith(t, holders[0] as Map<string, ProfileRecord>, end), await processorWith(t, holders[1] as Map<string, ProfileRecord>, end), 'http://127.0.0.1:1']
  const app = buildDashboard(options(url, table, { opsUrls: urls }))
  t.after(() => app.close())
  await app.ready()

  const churn = async (query: string): Promise<ChurnJson> => (await app.inject({ url: `/api/churn?${query}` })).json<ChurnJson>()
  const all = await churn('limit=25')
  assert.deepEqual(all.source, { kind: 'processors', answered: 2, asked: 3 })
  const everyone = holders.flatMap(h => [...h].map(([id, r]) => ({ id, score: r.risk?.score ?? 0 })))
    .sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : 1))
  assert.deepEqual(all.atRisk.map(c => c.customerId), everyone.slice(0, 25).map(c => c.id), 'both processors\' lists, merged by score')
  const quiet = all.atRisk.find(c => c.customerId === 'QUIET-1')
  assert.equal(quiet?.trigger, 'inactivity')
  assert.equal(quiet?.daysSilent, 10)
  assert.equal(quiet?.segment, '1-6-months')
  assert.deepEqual(quiet?.reasons, [{ feature: 'days_since_last', value: 9, impact: 0.4 }])
  // The change since last week: the current score against the latest stored a week before the newest event.
  const xss = all.atRisk.find(c => c.customerId === XSS)
  const weekAgo = rows.filter(r => r.userId === XSS && r.eventTime <= end - 7 * DAY).at(-1)
  assert.equal(xss?.changeSinceLastWeek, weekAgo === undefined ? null : (xss?.score ?? 0) - weekAgo.churnScore)
  const withHistory = all.atRisk.find(c => c.customerId.startsWith('cust-') && c.changeSinceLastWeek !== null)
  assert.ok(withHistory !== undefined, 'a customer with a stored score a week ago')

  const high = await churn('band=high&limit=100')
  assert.ok(high.atRisk.length > 0 && high.atRisk.every(c => c.band === 'high'))
  assert.equal(high.atRisk.length, everyone.filter(c => c.score >= 0.6 && c.score < 0.8).length)
  assert.deepEqual((await churn('segment=over-12-months')).atRisk.map(c => [c.customerId, c.tenureDays]), [['veteran', 400]])
  assert.deepEqual((await churn('segment=1-6-months')).atRisk.map(c => c.customerId), ['QUIET-1'])
  const young = await churn('segment=new&limit=500')
  assert.equal(young.atRisk.length, everyone.length - 2)

  // A customer the processor holds, with no stored prediction, still has a page.
  const page = (await app.inject({ url: '/api/customers/QUIET-1' })).json<{ found: boolean, current: { risk: { trigger: string, segment: string }, profile: { events: number } } | null }>()
  assert.equal(page.found, true)
  assert.equal(page.current?.risk.trigger, 'inactivity')
  assert.equal(page.current?.risk.segment, '1-6-months')
  assert.equal(page.current?.profile.events, 3)
})

test('every response carries the Content-Security-Policy; the page, its script and uPlot come from this server', async t => {
  const app = buildDashboard(options('sqlite::memory:', 'churn_predictions', { checkIndexes: false }))
  t.after(() => app.close())
  for (const path of ['/', '/app.js', '/style.css', '/vendor/uPlot.iife.min.js', '/vendor/uPlot.min.css', '/api/churn', '/nothing']) {
    const response = await app.inject({ url: path })
    assert.equal(response.headers['content-security-policy'], contentSecurityPolicy, path)
    assert.equal(response.headers['x-content-type-options'], 'nosniff')
  }
  const page = await app.inject({ url: '/' })
  assert.doesNotMatch(page.body, /https?:\/\//, 'no CDN, nothing from elsewhere')
  assert.doesNotMatch(page.body, /<script>|style=/, 'no inline script or style, which the policy forbids')
  assert.match(contentSecurityPolicy, /script-src 'self'/)
  const script = await app.inject({ url: '/app.js' })
  assert.doesNotMatch(script.body, /innerHTML|outerHTML|insertAdjacentHTML|document\.write/, 'stream data reaches the page as text only')
})

test('a table name that is not a plain identifier is refused before any query', () => {
  assert.throws(() => buildDashboard(options('sqlite::memory:', 'churn_predictions; DROP TABLE x')), { code: ErrorCodes.CONFIG_INVALID })
})

test('a key is asked for and checked: basic auth, bearer or x-api-key', async t => {
  const app = buildDashboard(options('sqlite::memory:', 'churn_predictions', { checkIndexes: false, key: 's3cret', user: 'ops' }))
  t.after(() => app.close())
  const none = await app.inject({ url: '/api/model' })
  assert.equal(none.statusCode, 401)
  assert.match(String(none.headers['www-authenticate']), /^Basic /)
  const basic = (user: string, key: string): string => `Basic ${Buffer.from(`${user}:${key}`).toString('base64')}`
  assert.equal((await app.inject({ url: '/', headers: { authorization: basic('ops', 's3cret') } })).statusCode, 200)
  assert.equal((await app.inject({ url: '/', headers: { authorization: basic('ops', 'wrong') } })).statusCode, 401)
  assert.equal((await app.inject({ url: '/', headers: { authorization: basic('other', 's3cret') } })).statusCode, 401)
  assert.equal((await app.inject({ url: '/', headers: { authorization: 'Bearer s3cret' } })).statusCode, 200)
  assert.equal((await app.inject({ url: '/', headers: { 'x-api-key': 's3cret' } })).statusCode, 200)
  assert.equal((await app.inject({ url: '/', headers: { 'x-api-key': 's3cre' } })).statusCode, 401)
})

test('off loopback the dashboard refuses to start without a key', async t => {
  for (const host of ['127.0.0.1', '127.0.0.2', 'localhost', '::1', '[::1]']) assert.doesNotThrow(() => { assertSafeBind(host, undefined) }, host)
  for (const host of ['0.0.0.0', '::', '192.168.1.10', 'example.com']) {
    assert.throws(() => { assertSafeBind(host, undefined) }, (e: unknown) => isChurnflowError(e) && e.code === ErrorCodes.DASHBOARD_AUTH_REQUIRED, host)
    assert.throws(() => { assertSafeBind(host, '') }, host)
    assert.doesNotThrow(() => { assertSafeBind(host, 'k') }, host)
  }
  await assert.rejects(startDashboard(options('sqlite::memory:', 'churn_predictions', { checkIndexes: false }), '0.0.0.0', 0), { code: ErrorCodes.DASHBOARD_AUTH_REQUIRED })
  const { app, url } = await startDashboard(options('sqlite::memory:', 'churn_predictions', { checkIndexes: false, key: 'k' }), '0.0.0.0', 0)
  t.after(() => app.close())
  assert.equal((await fetch(url.replace('0.0.0.0', '127.0.0.1'))).status, 401)

  const result = await cli(['dashboard', '--dashboard-host', '0.0.0.0', '--dashboard-port', '0'], { CHURNFLOW_STATE_DIR: tmpdir() })
  assert.equal(result.code, 1)
  assert.match(result.stderr, /without a key/)
  assert.match(result.stderr, /DASHBOARD_KEY/)
})

test('the processors\' Prometheus text is read for lag and latency', async () => {
  const m = streamMetrics()
  m.lag.set({ pipeline: 'churn', topic: 'user-events', partition: '2' }, 17)
  for (const s of [0.002, 0.003, 0.004, 0.2]) m.scoring.observe({ pipeline: 'churn' }, s)
  const samples = parsePrometheus(await m.registry.metrics())
  const lag = samples.find(s => s.name.endsWith('_consumer_lag'))
  assert.deepEqual(lag?.labels, { pipeline: 'churn', topic: 'user-events', partition: '2' })
  assert.equal(lag?.value, 17)
  const h = histogram(samples, '_scoring_seconds')
  assert.equal(h.count, 4)
  assert.equal(h.p50, 0.005)
  assert.equal(h.p95, 0.25)
  assert.ok(Math.abs((h.mean ?? 0) - 0.05225) < 1e-9)
})

test('the fraud view reads the fraud pipeline\'s tables when they exist', async t => {
  const backend = sqlBackends.find(b => b.name === 'sqlite')
  const url = await backend?.url(t)
  if (url === undefined) return
  const db = new DatabaseSync(url.slice('sqlite:'.length))
  db.exec(`CREATE TABLE transactions (transaction_id TEXT PRIMARY KEY, account_id TEXT, card_id TEXT, amount REAL, currency TEXT, merchant_id TEXT,
    merchant_category TEXT, channel TEXT, country TEXT, timestamp TEXT, extra TEXT, created_at TEXT)`)
  db.exec(`CREATE TABLE predictions (transaction_id TEXT UNIQUE, fraud_score REAL, prediction TEXT, model_version TEXT, reasons TEXT, created_at TEXT,
    kafka_topic TEXT, kafka_partition INTEGER, kafka_offset INTEGER)`)
  const tx = db.prepare('INSERT INTO transactions VALUES (?, ?, NULL, ?, ?, ?, ?, ?, ?, ?, NULL, ?)')
  const pr = db.prepare('INSERT INTO predictions VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?)')
  for (let i = 0; i < 40; i++) {
    const at = `2026-11-30 12:${String(i).padStart(2, '0')}:00.000`
    const fraud = i % 10 === 0
    tx.run(`T${i}`, `A${i % 7}`, 10 + i, 'EUR', `M${i}`, fraud ? '<img src=x onerror=alert(1)>' : 'grocery', i % 2 === 0 ? 'online' : 'pos', i % 3 === 0 ? 'DE' : 'FR', at, at)
    pr.run(`T${i}`, fraud ? 0.97 : 0.02, fraud ? 'fraud' : 'legit', 'fraud-1', JSON.stringify(fraud ? [{ feature: 'amount_vs_usual', value: 9, impact: 1.2 }] : []), at, 'transactions', i)
  }
  db.close()
  const app = buildDashboard(options(url, 'churn_predictions'))
  t.after(() => app.close())
  const fraud = (await app.inject({ url: '/api/fraud' })).json<{ present: boolean, flagged: { transactionId: string, merchantCategory: string }[], fraudRate: { total: number, fraud: number }[], breakdown: { channel: { key: string, total: number, fraud: number }[] } }>()
  assert.equal(fraud.present, true)
  assert.deepEqual(fraud.flagged.map(f => f.transactionId), ['T30', 'T20', 'T10', 'T0'])
  assert.equal(fraud.flagged[0]?.merchantCategory, '<img src=x onerror=alert(1)>')
  assert.deepEqual(fraud.fraudRate.map(r => [r.total, r.fraud]), [[40, 4]])
  assert.deepEqual(fraud.breakdown.channel, [{ key: 'online', total: 20, fraud: 4 }, { key: 'pos', total: 20, fraud: 0 }])
})

test('the live stream sends a prediction stored after the page opened', async t => {
  const backend = sqlBackends.find(b => b.name === 'sqlite')
  const url = await backend?.url(t)
  if (url === undefined) return
  const table = 'churn_predictions'
  await seed(url, table)
  const { app, url: base } = await startDashboard(options(url, table, { liveIntervalMs: 100 }), '127.0.0.1', 0)
  t.after(() => app.close())
  const abort = new AbortController()
  t.after(() => { abort.abort() })
  const response = await fetch(`${base}/api/live`, { signal: abort.signal })
  assert.equal(response.headers.get('content-type'), 'text/event-stream; charset=utf-8')
  assert.equal(response.headers.get('content-security-policy'), contentSecurityPolicy)
  const reader = response.body?.getReader()
  assert.ok(reader !== undefined)
  const decoder = new TextDecoder()
  let text = ''
  const readUntil = async (needle: string): Promise<void> => {
    const deadline = Date.now() + 30_000
    while (!text.includes(needle) && Date.now() < deadline) {
      const { value, done } = await reader.read()
      if (done) break
      text += decoder.decode(value)
    }
  }
  // The first look marks where the feed starts; what is stored after it is sent.
  await readUntil('event: ready')
  assert.match(text, /^event: ready$/m)
  const store = openPredictionStore(connection(url), { table })
  await store.insert([{ userId: 'late-customer', eventType: 'checkout', churnScore: 0.42, eventTime: Date.now(), predictionTime: Date.now(), metadata: null, topic: 'user-events', partition: 0, offset: 5_000_000n }])
  await store.close()
  await readUntil('late-customer')
  const event = text.split('\n\n').find(e => e.includes('late-customer')) ?? ''
  assert.match(event, /^event: predictions$/m)
  const data = JSON.parse(/^data: (.*)$/m.exec(event)?.[1] ?? '{}') as { added: number, rows: { customerId: string, score: number }[] }
  assert.equal(data.added, 1)
  assert.deepEqual(data.rows.map(r => [r.customerId, r.score]), [['late-customer', 0.42]])
})
