import type { Config } from '../../src/config/index.ts'
import { createProducer } from '../../src/kafka/client/index.ts'
import { applyEvent, emptyProfile, profileEventOf, type CustomerProfile } from '../../src/profile/index.ts'
import { RandomCustomerEvents, RandomUserEvents, UserEventShapes } from '../../src/simulator/index.ts'
import { Rng } from '../../src/util/rng.ts'

export interface TestRecord { readonly stream: 'user-events' | 'customer-events', readonly key: string, readonly value: string, readonly time: number }

/** Malformed records of every kind the processor must dead-letter, with the code each gets. */
export const poisonCorpus: readonly { value: string, code: string }[] = [
  { value: 'not json at all', code: 'invalid_json' },
  { value: '{"user_id": 5, "event_type": "bounce"', code: 'invalid_json' },
  { value: '[1, 2, 3]', code: 'invalid_event' },
  { value: '{"user_id": 5, "event_type": "teleport", "timestamp": "2024-01-15T10:30:00Z"}', code: 'unknown_event_type' },
  { value: '{"user_id": 5, "event_type": "bounce"}', code: 'invalid_event' },
  { value: '{"user_id": 5, "event_type": "bounce", "timestamp": "2024-02-30T10:30:00Z"}', code: 'invalid_timestamp' },
  { value: '{"user_id": {"a": 1}, "event_type": "bounce", "timestamp": "2024-01-15T10:30:00Z"}', code: 'invalid_event' },
  { value: '', code: 'empty_record' }
]

/**
 * A deterministic mix of user-events and customer-events over a few customers, events time-ordered
 * within each stream, starting at `start`.
 */
export function mixedEvents (count: number, options: { seed?: number, users?: number, customers?: number, start?: number, customerShare?: number } = {}): TestRecord[] {
  const rng = new Rng(options.seed ?? 7)
  const users = new RandomUserEvents(rng, { users: options.users ?? 200, shape: UserEventShapes.SEED003 })
  const customers = new RandomCustomerEvents(rng, { customers: options.customers ?? 100 })
  let time = options.start ?? Date.UTC(2024, 0, 1)
  const out: TestRecord[] = []
  for (let i = 0; i < count; i++) {
    time += 60_000
    const sim = rng.next() < (options.customerShare ?? 0.4) ? customers.next(time) : users.next(time)
    out.push({ stream: sim.stream as TestRecord['stream'], key: sim.key, value: JSON.stringify(sim.value), time: sim.time })
  }
  return out
}

/** Produces the records (each stream to its topic), in order, acks=all. */
export async function produceTo (config: Config, topics: { 'user-events': string, 'customer-events': string }, records: readonly TestRecord[]): Promise<void> {
  const producer = createProducer(config, { suffix: 'test' })
  try {
    for (let i = 0; i < records.length; i += 1000) {
      await producer.send({
        messages: records.slice(i, i + 1000).map(r => ({ topic: topics[r.stream], key: Buffer.from(r.key), value: Buffer.from(r.value), timestamp: BigInt(r.time) }))
      })
    }
  } finally {
    await producer.close()
  }
}

/** Produces raw values (poison included) to one topic with a key. */
export async function produceRaw (config: Config, topic: string, values: readonly string[], key = 'poison'): Promise<void> {
  const producer = createProducer(config, { suffix: 'test' })
  try {
    await producer.send({ messages: values.map(v => ({ topic, key: Buffer.from(key), value: Buffer.from(v) })) })
  } finally {
    await producer.close()
  }
}

/** The profile each customer must end with: its events applied once each, in order. */
export function expectedProfiles (records: readonly TestRecord[]): Map<string, CustomerProfile> {
  const profiles = new Map<string, CustomerProfile>()
  for (const r of records) {
    const value = JSON.parse(r.value) as { user_id?: number | string, customer_id?: string, event_type: string, timestamp: string, metadata?: unknown, data?: unknown }
    const id = String(value.user_id ?? value.customer_id)
    let p = profiles.get(id)
    if (p === undefined) profiles.set(id, p = emptyProfile())
    applyEvent(p, profileEventOf(value)!)
  }
  return profiles
}

/** How many records are scored: every user-event, and the significant customer-events. */
export function scoredCount (records: readonly TestRecord[], scoredTypes: ReadonlySet<string> = new Set(['order_placed', 'payment_failed', 'support_ticket_created', 'subscription_cancelled', 'cart_abandoned'])): number {
  let n = 0
  for (const r of records) {
    if (r.stream === 'user-events') n++
    else if (scoredTypes.has((JSON.parse(r.value) as { event_type: string }).event_type)) n++
  }
  return n
}
