import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ErrorCodes } from '../../src/errors.ts'
import {
  applyEvent, decodeProfileRecord, emptyProfile, encodeProfileRecord, MemoryProfileStore, profileEventOf, profileFields, supersedes, type ProfileRecord
} from '../../src/profile/index.ts'

function busy (seed: number): ProfileRecord {
  const profile = emptyProfile()
  const types = ['product_view', 'add_to_cart', 'checkout', 'bounce']
  for (let e = 0; e < 5 + seed % 7; e++) {
    const pe = profileEventOf({ event_type: types[(seed + e) % 4] as string, timestamp: new Date(Date.UTC(2026, 0, 1) + seed * 1000 + e * 3_600_000).toISOString(), metadata: { session_length: 1.5 + e } })
    if (pe !== undefined) applyEvent(profile, pe)
  }
  return { profile, offsets: { 'user-events:2': seed * 3, 'customer-events:2': seed, 'üñí-topic:2': 7 }, alert: { high: seed % 2 === 0, lastAt: seed * 10.5 }, version: seed }
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
  assert.equal(empty.length, 1 + 2 + Math.ceil(profileFields.length / 8) + 8 + 1 + 8 + 2)
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
