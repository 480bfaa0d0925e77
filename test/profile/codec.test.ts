import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ErrorCodes } from '../../src/errors.ts'
import {
  applyEvent, decodeProfileRecord, emptyProfile, encodeProfileRecord, MemoryProfileStore, profileEventOf, profileFields, RiskTriggers, supersedes, type ProfileRecord
} from '../../src/profile/index.ts'

function busy (seed: number): ProfileRecord {
  const profile = emptyProfile()
  const types = ['product_view', 'add_to_cart', 'checkout', 'bounce']
  for (let e = 0; e < 5 + seed % 7; e++) {
    const pe = profileEventOf({ event_type: types[(seed + e) % 4] as string, timestamp: new Date(Date.UTC(2026, 0, 1) + seed * 1000 + e * 3_600_000).toISOString(), metadata: { session_length: 1.5 + e } })
    if (pe !== undefined) applyEvent(profile, pe)
  }
  const record: ProfileRecord = { profile, offsets: { 'user-events:2': seed * 3, 'customer-events:2': seed, 'üñí-topic:2': 7 }, alert: { high: seed % 2 === 0, lastAt: seed * 10.5 }, version: seed }
  // Most customers have a current risk and a silence state; some have neither, or only one.
  if (seed % 5 === 1) return record
  const reasons = [{ feature: 'days_since_last', value: seed, impact: 0.25 }, { feature: 'views_7d', value: 0.5, impact: 0.125 }, { feature: 'ß_feature', value: -1, impact: 0.0625 }].slice(0, seed % 4)
  const risk = { score: (seed % 100) / 100, band: seed % 3 === 0 ? 'high' : 'low', modelVersion: `churn-gbt-${seed % 2}`, at: 1_767_225_600_000 + seed * 3_600_000, trigger: seed % 2 === 0 ? RiskTriggers.INACTIVITY : RiskTriggers.EVENT, reasons }
  if (seed % 5 === 2) return { ...record, risk }
  return { ...record, risk, silence: { steps: seed % 12, anchor: seed % 2 === 0 ? 'user-events:2' : 'üñí-topic:2' } }
}

test('a profile record survives encode and decode exactly, and the slab store encodes its rows to the same bytes', () => {
  const store = new MemoryProfileStore()
  for (let seed = 0; seed < 200; seed++) {
    const record = busy(seed)
    record.profile.totalSpent = -0.1 * seed
    const bytes = encodeProfileRecord(record)
    assert.deepEqual(decodeProfileRecord(bytes), record)
    store.set(`CUST-${seed}`, record)
    assert.ok(store.encode(`CUST-${seed}`)?.equals(bytes), `row ${seed} encodes as its record does`)
  }
  assert.equal(store.encode('nobody'), undefined)
})

test('fields equal to zero are left out of the bytes; bytes that are not a record are refused', () => {
  const empty = encodeProfileRecord({ profile: emptyProfile(), offsets: {}, alert: { high: false, lastAt: 0 }, version: 0 })
  const full = encodeProfileRecord(busy(3))
  assert.ok(empty.length < full.length)
  // Format version, field count, bitmap, write version, alert flags and time, offset count, and the flags of what follows (nothing).
  assert.equal(empty.length, 1 + 2 + Math.ceil(profileFields.length / 8) + 8 + 1 + 8 + 2 + 1)
  for (const bad of [Buffer.from([9]), full.subarray(0, full.length - 3), Buffer.concat([full, Buffer.from([0])])]) {
    assert.throws(() => decodeProfileRecord(bad), (error: unknown) => (error as { code?: string }).code === ErrorCodes.STATE_RECORD_INVALID || error instanceof RangeError)
  }
})

test('supersedes: the record further along every partition it shares wins, whatever order they come in', () => {
  const a = busy(1)
  const later: ProfileRecord = { ...a, offsets: { ...a.offsets, 'user-events:2': (a.offsets['user-events:2'] as number) + 5 } }
  assert.equal(supersedes(later, a), true)
  assert.equal(supersedes(a, later), false)
  assert.equal(supersedes(a, a), true)
  const other: ProfileRecord = { ...a, offsets: { 'user-events:2': 1 } }
  assert.equal(supersedes(other, a), false, 'a record missing a partition the other has applied does not supersede it')
})

test('a record of format version 1 (before the current risk) still reads, with no risk and no silence state', () => {
  const record = busy(1)
  const v2 = encodeProfileRecord(record)
  // Version 1 is version 2 without the trailing flags byte.
  const v1 = Buffer.from(v2.subarray(0, v2.length - 1))
  v1[0] = 1
  assert.deepEqual(decodeProfileRecord(v1), record)
  const v1WithExtra = Buffer.concat([v1, Buffer.from([0])])
  assert.throws(() => decodeProfileRecord(v1WithExtra), (error: unknown) => (error as { code?: string }).code === ErrorCodes.STATE_RECORD_INVALID)
})

test('the slab store ranks by current risk from its rows, and keeps the silence state', () => {
  const store = new MemoryProfileStore()
  for (let seed = 0; seed < 50; seed++) store.set(`CUST-${seed}`, busy(seed))
  const seen = new Map<string, [number, string, number, number]>()
  store.forEachRisk((id, score, band, at, firstSeen) => { seen.set(id, [score, band, at, firstSeen]) })
  for (let seed = 0; seed < 50; seed++) {
    const record = busy(seed)
    assert.deepEqual(seen.get(`CUST-${seed}`), record.risk === undefined ? undefined : [record.risk.score, record.risk.band, record.risk.at, record.profile.firstSeen])
  }
  const silences = new Map<string, number>()
  store.eachSilence((id, _lastSeen, steps) => { silences.set(id, steps) })
  assert.equal(silences.size, [...Array(50).keys()].filter(seed => busy(seed).silence !== undefined).length)
  assert.equal(silences.get('CUST-3'), 3)
})
