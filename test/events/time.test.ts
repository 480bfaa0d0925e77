import assert from 'node:assert/strict'
import { test } from 'node:test'
import { isoUtc, parseEventTime } from '../../src/events/index.ts'
import { sqlTimestamp } from '../../src/sql/common.ts'

test('parseEventTime reads the seeds\' timestamps, with and without a zone', () => {
  assert.equal(parseEventTime('2024-01-15T10:30:00Z'), Date.UTC(2024, 0, 15, 10, 30, 0))
  assert.equal(parseEventTime('2024-01-15T10:30:45.123Z'), Date.UTC(2024, 0, 15, 10, 30, 45, 123))
  assert.equal(parseEventTime('2024-01-15T10:30:00.123456'), Date.UTC(2024, 0, 15, 10, 30, 0, 123))
  assert.equal(parseEventTime('2024-01-15 10:30:00'), Date.UTC(2024, 0, 15, 10, 30, 0))
  assert.equal(parseEventTime('2024-01-15T10:30:00+02:00'), Date.UTC(2024, 0, 15, 8, 30, 0))
  assert.equal(parseEventTime('2024-02-29T00:00:00.000Z'), Date.UTC(2024, 1, 29))
})

test('parseEventTime refuses what names no real time, on the fast path too', () => {
  for (const bad of ['2024-02-30T10:30:45.123Z', '2023-02-29T00:00:00.000Z', '2024-04-31T00:00:00.000Z', '2024-13-01T00:00:00.000Z',
    '2024-00-10T00:00:00.000Z', '2024-01-00T00:00:00.000Z', '2024-01-15T24:00:00.000Z', '2024-01-15T10:60:00.000Z',
    '2024-01-15T10:30:60.000Z', '2024-01-15T10:30:45.12xZ', '2024-01-15X10:30:45.123Z', '20x4-01-15T10:30:45.123Z', '', 'yesterday']) {
    assert.equal(parseEventTime(bad), undefined, bad)
  }
})

test('parseEventTime agrees with Date on random canonical times', () => {
  let seed = 7
  const next = (): number => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed / 2 ** 31 }
  for (let i = 0; i < 20_000; i++) {
    const ms = Math.floor(next() * 4_102_444_800_000)
    assert.equal(parseEventTime(new Date(ms).toISOString()), ms)
  }
})

test('isoUtc and sqlTimestamp format alternating times correctly (their caches hold two)', () => {
  const times = [0, 1_700_000_000_123, 0, 1_700_000_000_123, 86_400_000, 1_700_000_000_123, 5]
  for (const ms of times) {
    assert.equal(isoUtc(ms), new Date(ms).toISOString())
    assert.equal(sqlTimestamp(ms), new Date(ms).toISOString().replace('T', ' ').slice(0, 23))
  }
})

test('isoUtc writes what toISOString writes, for any time of any day and outside the years it builds itself', () => {
  let seed = 99
  const next = (): number => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed / 2 ** 31 }
  const times: number[] = [0, 1, 999, 1000, 59_999, 86_399_999, 86_400_000, Date.UTC(2024, 1, 29, 23, 59, 59, 999), Date.UTC(2024, 2, 1),
    253_402_300_799_999, 253_402_300_800_000, -1, -86_400_001, -62_198_755_200_000, 1.5, 1_700_000_000_123.9, 8.64e15, -8.64e15]
  for (let i = 0; i < 20_000; i++) times.push(Math.floor(next() * 253_402_300_800_000))
  // Runs of one day, then jumps back and forth: the kept day must follow.
  for (let i = 0; i < 2000; i++) times.push(Date.UTC(2025, 5, 1) + (i % 7) * 86_400_000 + Math.floor(next() * 86_400_000))
  for (const ms of times) {
    assert.equal(isoUtc(ms), new Date(ms).toISOString(), String(ms))
    // The SQL form is the same text with a space and no zone (SQL holds years up to 9999).
    if (ms >= 0 && ms < 253_402_300_800_000) assert.equal(sqlTimestamp(ms), new Date(ms).toISOString().replace('T', ' ').slice(0, 23), String(ms))
  }
  assert.throws(() => isoUtc(NaN), RangeError)
  assert.throws(() => isoUtc(8.64e15 + 1), RangeError)
})
