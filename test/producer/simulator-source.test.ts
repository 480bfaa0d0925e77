import assert from 'node:assert/strict'
import { test } from 'node:test'
import { simulatorSource, type Generator, type TopicNames } from '../../src/producer/index.ts'
import { Population, type SimRecord } from '../../src/simulator/index.ts'
import { Rng } from '../../src/util/rng.ts'

const topics: TopicNames = { 'user-events': 'u', 'customer-events': 'c', transactions: 't' }

test('a live simulator source hands out a record only once its event time has come', async () => {
  const now = Date.UTC(2026, 0, 1)
  const population = new Population(new Rng(2), { customers: 3000, start: now - 3_600_000, end: Infinity })
  const seen: SimRecord[] = []
  const generator: Generator = { next: () => population.next() }
  const source = simulatorSource(generator, topics, { live: true, onRecord: r => seen.push(r) })
  const first = await source.take(100_000, now)
  assert.ok(first.length > 20, `${first.length} records of the last hour`)
  assert.ok(first.every(r => r.time <= now))
  // The next one is due later: held back, and it says when.
  assert.deepEqual(await source.take(100, now), [])
  const due = await source.peekTime!()
  assert.ok(due !== undefined && due > now)
  const later = await source.take(100, due)
  assert.equal(later.length >= 1, true)
  assert.equal(later[0]!.time, due)
  // Only records handed out reach onRecord (the truth written beside them).
  assert.equal(seen.length, first.length + later.length)
})

test('a source that is not live hands out simulated time as fast as asked', async () => {
  const now = Date.UTC(2026, 0, 1)
  const population = new Population(new Rng(2), { customers: 3000, start: now - 3_600_000, end: Infinity })
  const source = simulatorSource({ next: () => population.next() }, topics)
  const records = await source.take(5000, now)
  assert.equal(records.length, 5000)
  assert.ok(records.some(r => r.time > now), 'simulated time ran past the wall clock')
})
