// The dashboard in Debian's chromium (playwright-core), against a running churnflow: the real
// Kafka, a `churnflow process` child writing SQLite, producers as children, the dashboard in
// process on port 0. Screenshots of each view go to CHURNFLOW_SCREENSHOTS (default: a temp dir).
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import { loadConfig, type Config } from '../../src/config/index.ts'
import { dashboardOptions, startDashboard } from '../../src/dashboard/index.ts'
import { createProducer } from '../../src/kafka/client/index.ts'
import { createLogger } from '../../src/logging/index.ts'
import { binPath, cli, createTopic, deleteTopics, kafkaConfig, uniqueName, unavailable } from '../helpers/services.ts'

const CHROMIUM = '/usr/bin/chromium'
const XSS = '<script>alert(1)</script>'
const log = createLogger({ level: 'silent', format: 'text', destination: { write: () => undefined } })

async function waitFor<T> (what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined && value !== false) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 250))
  }
}

/** Starts a churnflow child and resolves once a line of its output matches. */
function start (t: TestContext, args: string[], env: Record<string, string>, ready?: RegExp): Promise<{ child: ChildProcess, match: RegExpMatchArray | undefined }> {
  const child = spawn(process.execPath, [binPath, ...args], { env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  t.after(async () => {
    if (child.exitCode === null) {
      const closed = new Promise(resolve => child.once('close', resolve))
      child.kill('SIGTERM')
      // A producer with a --duration may see the signal only between its sends.
      const kill = setTimeout(() => { child.kill('SIGKILL') }, 10_000)
      await closed
      clearTimeout(kill)
    }
  })
  let output = ''
  return new Promise((resolve, reject) => {
    const look = (d: Buffer): void => {
      output += d.toString('utf8')
      const m = ready === undefined ? undefined : output.match(ready)
      if (m !== undefined && m !== null) resolve({ child, match: m })
    }
    child.stdout.on('data', look)
    child.stderr.on('data', look)
    child.on('close', code => { reject(new Error(`churnflow ${args.join(' ')} exited ${String(code)} before it was ready:\n${output.slice(-2000)}`)) })
    if (ready === undefined) resolve({ child, match: undefined })
  })
}

interface Setup { config: Config, env: Record<string, string>, url: string, opsUrl: string, shots: string }

const DAY = 86_400_000
/** A customer seen once, 40 days ago (re-scored by its silence), and one first seen 400 days ago and again lately. */
const QUIET = 'quiet-customer'
const VETERAN = 'veteran-customer'

async function setUp (t: TestContext): Promise<Setup | undefined> {
  if (!existsSync(CHROMIUM)) {
    unavailable(t, `chromium at ${CHROMIUM}`)
    return undefined
  }
  const kafka = await kafkaConfig(t)
  if (kafka === undefined) return undefined
  const dir = mkdtempSync(join(tmpdir(), 'churnflow-dash-'))
  t.after(() => { rmSync(dir, { recursive: true, force: true }) })
  const topics = { user: uniqueName('ue'), customer: uniqueName('ce'), predictions: uniqueName('pred'), alerts: uniqueName('alerts') }
  for (const topic of Object.values(topics)) await createTopic(kafka, topic, 2)
  t.after(() => deleteTopics(kafka, [...Object.values(topics), `${topics.user}-failed`, `${topics.customer}-failed`]))
  const env: Record<string, string> = {
    KAFKA_BROKER: kafka.kafkaBrokers.join(','),
    KAFKA_TOPIC: topics.user,
    KAFKA_TOPIC_CUSTOMER_EVENTS: topics.customer,
    KAFKA_TOPIC_CHURN_PREDICTIONS: topics.predictions,
    KAFKA_TOPIC_CHURN_ALERTS: topics.alerts,
    KAFKA_GROUP_ID: uniqueName('group'),
    DATABASE_URL: `sqlite:${join(dir, 'churnflow.db')}`,
    CHURNFLOW_STATE_DIR: dir,
    OPS_PORT: '0',
    LOG_LEVEL: 'info',
    BATCH_SIZE: '50'
  }
  const { config } = loadConfig({ env, envFile: false })
  // History first: random user-events and customer-events (whose critical types alert), and one
  // customer whose id is markup.
  for (const stream of ['user-events', 'customer-events']) {
    const produced = await cli(['produce', '--stream', stream, '--users', '60', '--customers', '60', '--count', '600', '--rate', 'max', '--seed', '5'], env, 120_000)
    assert.equal(produced.code, 0, produced.stderr)
  }
  const producer = createProducer(config)
  const event = (type: string): string => JSON.stringify({ user_id: XSS, event_type: type, timestamp: new Date().toISOString(), metadata: { note: '"; DROP TABLE churn_predictions; --' } })
  await producer.send({ messages: ['product_view', 'bounce', 'bounce'].map(type => ({ topic: topics.user, key: Buffer.from(XSS), value: Buffer.from(event(type)) })) })
  const at = (id: string, type: string, ago: number) => ({ topic: topics.user, key: Buffer.from(id), value: Buffer.from(JSON.stringify({ user_id: id, event_type: type, timestamp: new Date(Date.now() - ago).toISOString(), metadata: { session_length: 3 } })) })
  await producer.send({ messages: [at(QUIET, 'product_view', 40 * DAY), at(VETERAN, 'checkout', 400 * DAY), at(VETERAN, 'product_view', DAY / 24)] })
  // Poison for the dead-letter view: not JSON, and an event of no known type.
  await producer.send({ messages: ['{"user_id": 1, "event_type": "<b>bold</b>"', '{"user_id": 2, "event_type": "teleport", "timestamp": "2026-01-01T00:00:00Z"}'].map(v => ({ topic: topics.user, value: Buffer.from(v) })) })
  await producer.close()

  const processor = await start(t, ['process'], env, /Ops endpoints on (http:\/\/\S+)/)
  const opsUrl = processor.match?.[1] as string
  const { app, url } = await startDashboard(dashboardOptions(config, log, { opsUrls: [opsUrl], liveIntervalMs: 300 }), '127.0.0.1', 0)
  t.after(() => app.close())
  // The processor has drained the history once the markup customer is stored.
  await waitFor('the history in SQL', async () => {
    const body = await (await fetch(`${url}/api/customers/${encodeURIComponent(XSS)}`)).json() as { found: boolean }
    return body.found ? true : undefined
  })
  const shots = process.env.CHURNFLOW_SCREENSHOTS ?? join(dir, 'screenshots')
  mkdirSync(shots, { recursive: true })
  // The quiet customer's silence is scored once the partition's watermark passes its steps.
  await waitFor('the quiet customer re-scored by its silence', async () => {
    const body = await fetch(`${opsUrl}/customers/${QUIET}`).then(r => r.json() as Promise<{ risk?: { trigger?: string } }>, () => undefined)
    return body?.risk?.trigger === 'inactivity' ? true : undefined
  })
  return { config, env, url, opsUrl, shots }
}

async function openBrowser (t: TestContext): Promise<{ browser: Browser, page: Page, problems: string[], dialogs: string[] }> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] })
  t.after(() => browser.close())
  const page = await browser.newPage({ viewport: { width: 1360, height: 900 } })
  const problems: string[] = []
  const dialogs: string[] = []
  page.on('console', m => { if (m.type() === 'error') problems.push(`console: ${m.text()}`) })
  page.on('pageerror', e => { problems.push(`page error: ${e.message}`) })
  page.on('dialog', d => { dialogs.push(d.message()); void d.dismiss() })
  return { browser, page, problems, dialogs }
}

test('the dashboard in chromium: every view, the live counter, the at-risk list, a customer page, markup as text', async t => {
  const s = await setUp(t)
  if (s === undefined) return
  const { page, problems, dialogs } = await openBrowser(t)

  // Every view loads with no console error, and is photographed.
  for (const view of ['overview', 'churn', 'alerts', 'fraud', 'model']) {
    await page.goto(`${s.url}/#/${view}`)
    // Between views only the hash changes: wait for this view's own heading.
    const title = view[0]?.toUpperCase() + view.slice(1)
    await waitFor(`the ${view} view`, async () => {
      const h1 = await page.textContent('main h1').catch(() => null)
      assert.notEqual(h1, 'Cannot load this view', view)
      return h1 === title ? true : undefined
    })
    await page.screenshot({ path: join(s.shots, `${view}.png`), fullPage: view !== 'churn' })
  }
  assert.match(await page.textContent('main') ?? '', /Version/)
  await page.goto(`${s.url}/#/fraud`)
  await page.waitForSelector('#no-fraud')

  // A live counter rises while events flow.
  await page.goto(`${s.url}/#/overview`)
  await page.waitForSelector('#overview-live')
  const live = await start(t, ['produce', '--stream', 'user-events', '--users', '60', '--rate', '20', '--duration', '40s', '--seed', '9'], s.env)
  const counter = async (): Promise<number> => Number((await page.textContent('#live-count') ?? '0').replace(/,/g, ''))
  const first = await waitFor('the live counter to rise', async () => { const n = await counter(); return n > 0 ? n : undefined })
  await waitFor('the live counter to rise again', async () => (await counter()) > first ? true : undefined)
  await waitFor('the live state', async () => (await page.textContent('#live-state')) === 'live' ? true : undefined)
  // The new predictions themselves are on the page, each a link to its customer.
  await page.waitForSelector('table[data-table="live-predictions"] tbody tr a')
  await page.screenshot({ path: join(s.shots, 'overview-live.png'), fullPage: true })
  live.child.kill('SIGTERM')

  // The at-risk list is the processor's current risk: the silent customer is in it, re-scored by
  // its silence, ranked by score; it sorts, and filters by band and by tenure.
  await page.goto(`${s.url}/#/churn`)
  await page.waitForSelector('table[data-table="at-risk"] tbody tr a')
  assert.equal(await page.getAttribute('#at-risk-source', 'data-source'), 'processors')
  await page.selectOption('#limit-filter', '500')
  const rowOf = (id: string) => page.locator('table[data-table="at-risk"] tbody tr', { has: page.locator(`a[data-customer="${id}"]`) })
  await waitFor('the silent customer in the list', async () => (await rowOf(QUIET).count()) === 1 ? true : undefined)
  assert.equal((await rowOf(QUIET).locator('td:nth-child(8)').textContent())?.trim(), 'inactivity')
  assert.ok(Number(await rowOf(QUIET).locator('td:nth-child(7)').textContent()) >= 39, 'days of silence')
  const scores = async (): Promise<number[]> => (await page.$$eval('table[data-table="at-risk"] tbody tr td:nth-child(2)', tds => tds.map(td => td.textContent ?? ''))).map(Number)
  const ranked = await scores()
  assert.ok(ranked.length > 50, `${ranked.length} customers listed`)
  assert.deepEqual(ranked, [...ranked].sort((a, b) => b - a), 'ranked by current risk')
  const scoreHeader = page.locator('table[data-table="at-risk"] th[data-key="score"]')
  await scoreHeader.locator('button').focus()
  await page.keyboard.press('Enter')
  assert.equal(await scoreHeader.getAttribute('aria-sort'), 'ascending')
  const ascending = await scores()
  assert.deepEqual(ascending, [...ranked].sort((a, b) => a - b), 'sorted by the keyboard, lowest first')
  // Tenure: the quiet customer was first seen 40 days ago, the veteran 400; everyone else lately.
  const listed = async (): Promise<string[]> => page.$$eval('table[data-table="at-risk"] tbody tr a', as => as.map(a => a.getAttribute('data-customer') ?? ''))
  const segments = async (): Promise<string[]> => page.$$eval('table[data-table="at-risk"] tbody tr td:nth-child(9) > span', spans => spans.map(x => x.getAttribute('data-segment') ?? ''))
  await page.focus('#segment-filter')
  await page.selectOption('#segment-filter', '1-6-months')
  await waitFor('the tenure filter', async () => {
    const ids = await listed()
    return ids.length === 1 && ids[0] === QUIET && (await segments()).every(x => x === '1-6-months') ? true : undefined
  })
  await page.selectOption('#segment-filter', 'over-12-months')
  await waitFor('the tenure filter again', async () => (await listed()).join() === VETERAN ? true : undefined)
  await page.selectOption('#segment-filter', 'new')
  await waitFor('the newest customers', async () => {
    const ids = await listed()
    return ids.length > 50 && !ids.includes(QUIET) && !ids.includes(VETERAN) && (await segments()).every(x => x === 'new') ? true : undefined
  })
  await page.selectOption('#segment-filter', '')
  await page.selectOption('#limit-filter', '50')
  await waitFor('all tenures, 50 customers', async () => (await listed()).length === 50 ? true : undefined)
  await page.screenshot({ path: join(s.shots, 'churn-processor.png') })
  const band = (await page.textContent('table[data-table="at-risk"] tbody tr td:nth-child(3)'))?.trim() ?? ''
  await page.selectOption('#band-filter', band)
  await waitFor('the band filter', async () => {
    const bands = await page.$$eval('table[data-table="at-risk"] tbody tr td:nth-child(3)', tds => tds.map(td => td.textContent?.trim()))
    return bands.length > 0 && bands.every(b => b === band) && (await page.inputValue('#band-filter')) === band ? true : undefined
  })
  const inBand = await scores()
  assert.deepEqual(inBand, [...inBand].sort((a, b) => b - a), 'a band is ranked too')
  await page.screenshot({ path: join(s.shots, 'churn-filtered.png') })

  // The silent customer's page: the processor's current risk, and its silence re-scores among its events.
  await page.goto(`${s.url}/#/customer/${QUIET}`)
  await waitFor('the quiet customer\'s page', async () => (await page.textContent('#customer-id').catch(() => null)) === QUIET ? true : undefined)
  await page.waitForSelector('#current-risk[data-trigger="inactivity"]')
  const silences = await page.$$eval('table[data-table="recent-events"] em.silence', ems => ems.map(e => e.textContent ?? ''))
  assert.ok(silences.length > 0 && silences.every(x => /^silence \d+d$/.test(x)), silences.join(', '))
  await page.screenshot({ path: join(s.shots, 'customer-silent.png'), fullPage: true })
  await page.goto(`${s.url}/#/churn`)
  await page.waitForSelector('table[data-table="at-risk"] tbody tr a')

  // Clicking a customer opens a page with a score chart.
  const link = page.locator('table[data-table="at-risk"] tbody tr a').first()
  const id = await link.textContent() ?? ''
  await link.click()
  await waitFor('the customer page', async () => (await page.textContent('#customer-id').catch(() => null)) === id ? true : undefined)
  await page.waitForSelector('#score-chart canvas')
  assert.equal(decodeURIComponent(new URL(page.url()).hash.slice('#/customer/'.length)), id)
  await page.screenshot({ path: join(s.shots, 'customer.png'), fullPage: true })

  // A customer id of <script>alert(1)</script> renders as text, and no dialog opens.
  // Only the hash changes: the page must have drawn the new customer, not still show the last one.
  await page.goto(`${s.url}/#/customer/${encodeURIComponent(XSS)}`)
  await waitFor('the markup customer\'s page', async () => (await page.textContent('#customer-id').catch(() => null)) === XSS ? true : undefined)
  await page.waitForSelector('#score-chart canvas')
  assert.equal(await page.locator('main script').count(), 0)
  await page.goto(`${s.url}/#/churn`)
  await page.waitForSelector('table[data-table="at-risk"] tbody tr a')
  await page.fill('#find-id', XSS)
  await page.press('#find-id', 'Enter')
  await waitFor('the customer found by id', async () => (await page.textContent('#customer-id').catch(() => null)) === XSS ? true : undefined)
  await page.screenshot({ path: join(s.shots, 'customer-markup-id.png') })
  assert.deepEqual(dialogs, [], 'no dialog opened')

  assert.deepEqual(problems, [], 'no console error on any view')
})
