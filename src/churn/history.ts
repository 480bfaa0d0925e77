import { createReadStream, existsSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { MessagesStreamModes } from '@platformatic/kafka'
import type { Config } from '../config/index.ts'
import { ChurnflowError, ErrorCodes } from '../errors.ts'
import { createAdmin, createConsumer } from '../kafka/client/index.ts'
import { profileEventOf, type ProfileEvent } from '../profile/index.ts'

/** Event types by code, for the compact history. */
export const eventTypeCodes = [
  'product_view', 'add_to_cart', 'checkout', 'bounce', 'order_placed', 'order_cancelled', 'payment_failed',
  'support_ticket_created', 'email_opened', 'email_clicked', 'login', 'product_viewed', 'cart_abandoned',
  'review_submitted', 'refund_requested', 'subscription_cancelled'
] as const satisfies readonly ProfileEvent['type'][]
const codeOf = new Map<string, number>(eventTypeCodes.map((t, i) => [t, i]))

/**
 * Event history held compactly (a few typed arrays, about 25 bytes an event), so months of events
 * of tens of thousands of customers fit in memory for training.
 */
export class History {
  readonly customers: string[] = []
  readonly #index = new Map<string, number>()
  #size = 0
  customer = new Int32Array(1024)
  type = new Uint8Array(1024)
  time = new Float64Array(1024)
  /** session_length, order_value or rating, whichever the type carries; NaN when none. */
  value = new Float64Array(1024)
  /** Records that were not usable events (no id, unknown type, bad time). */
  skipped = 0

  get size (): number {
    return this.#size
  }

  #grow (): void {
    const n = this.customer.length * 2
    const grow = <T extends Int32Array | Uint8Array | Float64Array>(a: T, make: (n: number) => T): T => {
      const b = make(n)
      b.set(a)
      return b
    }
    this.customer = grow(this.customer, k => new Int32Array(k))
    this.type = grow(this.type, k => new Uint8Array(k))
    this.time = grow(this.time, k => new Float64Array(k))
    this.value = grow(this.value, k => new Float64Array(k))
  }

  /** Adds one user-event or customer-event record; returns false when it is not usable. */
  add (record: unknown): boolean {
    if (typeof record !== 'object' || record === null) return this.#skip()
    const r = record as Record<string, unknown>
    const rawId = r.customer_id ?? r.user_id
    if ((typeof rawId !== 'string' && typeof rawId !== 'number') || rawId === '') return this.#skip()
    if (typeof r.event_type !== 'string' || typeof r.timestamp !== 'string') return this.#skip()
    const code = codeOf.get(r.event_type)
    const event = profileEventOf(r as { event_type: string, timestamp: string })
    if (code === undefined || event === undefined) return this.#skip()
    const id = String(rawId)
    let c = this.#index.get(id)
    if (c === undefined) {
      c = this.customers.length
      this.customers.push(id)
      this.#index.set(id, c)
    }
    if (this.#size === this.customer.length) this.#grow()
    const i = this.#size++
    this.customer[i] = c
    this.type[i] = code
    this.time[i] = event.time
    this.value[i] = event.sessionLength ?? event.orderValue ?? event.rating ?? Number.NaN
    return true
  }

  #skip (): false {
    this.skipped++
    return false
  }

  /** The event at position i, as the profile takes it. */
  event (i: number): ProfileEvent {
    const type = eventTypeCodes[this.type[i] as number] as ProfileEvent['type']
    const time = this.time[i] as number
    const v = this.value[i] as number
    if (Number.isNaN(v)) return { type, time }
    if (type === 'order_placed') return { type, time, orderValue: v }
    if (type === 'review_submitted') return { type, time, rating: v }
    return { type, time, sessionLength: v }
  }

  /** Positions in event-time order (stable for equal times). */
  order (): Uint32Array {
    const n = this.#size
    const idx = new Uint32Array(n)
    for (let i = 0; i < n; i++) idx[i] = i
    const time = this.time
    let sorted = true
    for (let i = 1; i < n && sorted; i++) if ((time[i] as number) < (time[i - 1] as number)) sorted = false
    if (!sorted) idx.sort((a, b) => ((time[a] as number) - (time[b] as number)) || a - b)
    return idx
  }
}

/** Reads JSON lines of events into a history. */
export async function readHistoryFile (path: string, history = new History(), onProgress?: (lines: number) => void): Promise<History> {
  if (!existsSync(path)) throw new ChurnflowError(ErrorCodes.USAGE, `${path} does not exist`, { exitCode: 2 })
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity })
  let n = 0
  for await (const line of lines) {
    n++
    if (onProgress !== undefined && n % 1_000_000 === 0) onProgress(n)
    if (line.trim() === '') continue
    let record: unknown
    try {
      record = JSON.parse(line)
    } catch {
      history.skipped++
      continue
    }
    history.add(record)
  }
  return history
}

/** Reads topics from their beginning up to their end as of now (the high watermarks) into a history. */
export async function readHistoryTopics (config: Config, topics: readonly string[], history = new History(), onProgress?: (records: number) => void): Promise<History> {
  const admin = createAdmin(config)
  let remaining = 0
  try {
    const metadata = await admin.metadata({ topics: [...topics] })
    for (const topic of topics) if (!metadata.topics.has(topic)) throw new ChurnflowError(ErrorCodes.USAGE, `topic ${topic} does not exist`, { exitCode: 2 })
  } finally {
    await admin.close()
  }
  const consumer = createConsumer(config, `churnflow-train-${process.pid}-${Date.now()}`)
  try {
    const offsets = await consumer.listOffsets({ topics: [...topics] })
    for (const [, partitions] of offsets) for (const end of partitions) remaining += Number(end)
    if (remaining === 0) return history
    const stream = await consumer.consume({ topics: [...topics], mode: MessagesStreamModes.EARLIEST, autocommit: false, maxWaitTime: 500 })
    let n = 0
    const ends = new Map<string, bigint>()
    for (const [topic, partitions] of offsets) partitions.forEach((end, p) => { ends.set(`${topic}:${p}`, end) })
    let open = [...ends.values()].filter(e => e > 0n).length
    for await (const message of stream) {
      n++
      if (onProgress !== undefined && n % 1_000_000 === 0) onProgress(n)
      try {
        history.add(JSON.parse(message.value?.toString('utf8') ?? ''))
      } catch {
        history.skipped++
      }
      if (message.offset + 1n === ends.get(`${message.topic}:${message.partition}`)) {
        open--
        if (open === 0) break
      }
    }
    await stream.close()
  } finally {
    await consumer.close(true)
  }
  return history
}
