import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { ChurnScorer, History, profilesAsOf, riskAsOf, shippedChurnModelPath } from '../../src/churn/index.ts'
import { cli } from '../helpers/services.ts'

const DAY = 86_400_000
const start = Date.UTC(2025, 0, 1)
const iso = (day: number): string => new Date(start + day * DAY).toISOString()

/** A regular buyer who goes quiet after day 40, one who keeps buying, and one who arrives on day 70. */
function events (): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = []
  const shop = (id: string, from: number, to: number, every: number): void => {
    for (let d = from; d <= to; d += every) {
      out.push({ customer_id: id, event_type: 'login', timestamp: iso(d + 0.01) })
      out.push({ user_id: id, event_type: 'product_view', timestamp: iso(d + 0.02), metadata: { session_length: 6 } })
      out.push({ user_id: id, event_type: 'add_to_cart', timestamp: iso(d + 0.03) })
      out.push({ customer_id: id, event_type: 'order_placed', timestamp: iso(d + 0.04), data: { order_value: 40 } })
    }
  }
  shop('QUIET', 0, 40, 3)
  shop('STEADY', 0, 120, 3)
  shop('LATE', 70, 120, 3)
  return out.sort((a, b) => String(a.timestamp).localeCompare(String(b.timestamp)))
}

async function tempDir (t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'churnflow-score-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  return dir
}

const lines = async (path: string): Promise<Record<string, unknown>[]> =>
  (await readFile(path, 'utf8')).split('\n').filter(l => l !== '').map(l => JSON.parse(l) as Record<string, unknown>)

test('riskAsOf: a customer\'s risk rises as their silence grows', () => {
  const history = new History()
  for (const e of events()) history.add(e)
  const scorer = ChurnScorer.fromFile(shippedChurnModelPath)
  const quiet = history.customers.indexOf('QUIET')
  const scores = [41, 50, 60, 75, 90].map(day => {
    const at = start + day * DAY
    const profile = profilesAsOf(history, at)[quiet]
    assert.ok(profile !== undefined)
    return riskAsOf(scorer, 'QUIET', profile, at).churn_score
  })
  for (let k = 1; k < scores.length; k++) assert.ok((scores[k] as number) >= (scores[k - 1] as number), `risk never falls while silent: ${scores.join(', ')}`)
  assert.ok((scores[scores.length - 1] as number) - (scores[0] as number) > 0.15, `fifty silent days raise the risk a lot: ${scores.join(', ')}`)
})

test('churnflow score --at: one line per customer seen by then, scored as of then; later events change nothing', async t => {
  const dir = await tempDir(t)
  const all = events()
  const full = join(dir, 'all.jsonl')
  const cut = join(dir, 'cut.jsonl')
  await writeFile(full, all.map(e => JSON.stringify(e)).join('\n'))
  await writeFile(cut, all.filter(e => String(e.timestamp) <= iso(60)).map(e => JSON.stringify(e)).join('\n'))
  const at = iso(60).slice(0, 10)
  const fromFull = join(dir, 'full-out.jsonl')
  const fromCut = join(dir, 'cut-out.jsonl')
  for (const [events, output] of [[full, fromFull], [cut, fromCut]] as const) {
    const r = await cli(['score', '--events', events, '--at', at, '--output', output])
    assert.equal(r.code, 0, r.stderr + r.stdout)
  }
  const scored = await lines(fromFull)
  assert.deepEqual(scored, await lines(fromCut), 'events after --at change nothing')
  assert.deepEqual(scored.map(s => s.customer_id).sort(), ['QUIET', 'STEADY'], 'a customer first seen after --at is not scored')
  const shipped = ChurnScorer.fromFile(shippedChurnModelPath).version
  for (const s of scored) {
    assert.deepEqual(Object.keys(s).sort(), ['churn_score', 'customer_id', 'last_seen', 'model_version', 'reasons', 'risk_band', 'scored_at'])
    assert.equal(s.model_version, shipped)
    assert.equal(s.scored_at, new Date(`${at}T00:00:00Z`).toISOString())
  }
  const quiet = scored.find(s => s.customer_id === 'QUIET') as { churn_score: number, last_seen: string }
  const steady = scored.find(s => s.customer_id === 'STEADY') as { churn_score: number }
  assert.equal(quiet.last_seen, iso(39.04))
  assert.ok(quiet.churn_score > steady.churn_score + 0.1, `the silent customer ${quiet.churn_score} vs the steady one ${steady.churn_score}`)

  // Without --at: as of the last event, to standard output; every customer is there.
  const latest = await cli(['score', '--events', full])
  assert.equal(latest.code, 0, latest.stderr)
  const out = latest.stdout.split('\n').filter(l => l.startsWith('{"customer_id"')).map(l => JSON.parse(l) as { customer_id: string, scored_at: string })
  assert.deepEqual(out.map(s => s.customer_id).sort(), ['LATE', 'QUIET', 'STEADY'])
  for (const s of out) assert.equal(s.scored_at, iso(120.04))
})

test('churnflow score reads a CSV of invoices with --map, as produce --from-file does', async t => {
  const dir = await tempDir(t)
  const csv = join(dir, 'invoices.csv')
  const rows = ['Customer,Kind,When,order_value']
  for (let d = 0; d <= 120; d += 10) rows.push(`C1,order_placed,${iso(d)},25.5`)
  for (let d = 0; d <= 30; d += 10) rows.push(`C2,order_placed,${iso(d)},12`)
  rows.push('C3,teleport,2025-01-02T00:00:00Z,1')
  await writeFile(csv, rows.join('\n'))
  const r = await cli(['score', '--events', csv, '--map', 'customer_id=Customer,event_type=Kind,timestamp=When', '--at', iso(121).slice(0, 10)])
  assert.equal(r.code, 0, r.stderr + r.stdout)
  const out = r.stdout.split('\n').filter(l => l.startsWith('{"customer_id"')).map(l => JSON.parse(l) as { customer_id: string, churn_score: number, reasons: { feature: string }[] })
  assert.deepEqual(out.map(s => s.customer_id).sort(), ['C1', 'C2'])
  const of = (id: string): { churn_score: number, reasons: { feature: string }[] } => {
    const s = out.find(x => x.customer_id === id)
    assert.ok(s !== undefined, id)
    return s
  }
  assert.ok(of('C2').churn_score > of('C1').churn_score, `the customer silent for 90 days ${of('C2').churn_score} vs the one who bought yesterday ${of('C1').churn_score}`)
  // Purchases alone: the purchase-history model scores them, and says why.
  assert.deepEqual(of('C2').reasons.map(x => x.feature), ['days_since_last_purchase'])
})
