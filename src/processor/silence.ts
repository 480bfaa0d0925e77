/**
 * Silence sweeps: churn is mostly a customer who stops coming, so a customer with no activity is
 * re-scored as each step of silence passes (a day, two, three, a week...), by event time. Each
 * partition keeps the customers' next due times in a `DueIndex`; the processor takes from it what
 * its watermark (the latest event time of the partition, or the wall clock when the partition is
 * live and idle) has passed.
 */

import { hoursOrDays } from '../util/backoff.ts'
import { KeyedMinHeap } from '../util/heap.ts'

const DAY = 86_400_000

export interface SilencePolicy {
  /** Lengths of silence at which a customer is re-scored, increasing, in ms; empty = no sweeps. */
  readonly stepsMs: readonly number[]
  /** A partition whose watermark is at most this far behind the wall clock is live. */
  readonly liveWindowMs: number
}

export function silencePolicy (options: { stepsMs: readonly number[], liveWindowHours: number }): SilencePolicy {
  return { stepsMs: options.stepsMs, liveWindowMs: options.liveWindowHours * 3_600_000 }
}

/** When a customer last active at `lastSeen`, with `steps` steps scored since, is next due; undefined after the last step. */
export function nextDue (policy: SilencePolicy, lastSeen: number, steps: number): number | undefined {
  const step = policy.stepsMs[steps]
  return step === undefined || lastSeen <= 0 ? undefined : lastSeen + step
}

/**
 * The `kafka_topic` of a silence step's row: `<topic>/silence-<step>` (`user-events/silence-7d`),
 * beside the partition and offset of the record the silence follows. A `/` is never in a topic's
 * name, so it meets no event's row, and the unique key keeps one row per customer and step.
 */
export function silenceTopic (topic: string, stepMs: number): string {
  return `${topic}/silence-${hoursOrDays(stepMs)}`
}

/** The source stream of a stored prediction: its kafka_topic up to a `/` (a silence step's is `<topic>/silence-<step>`). */
export function streamOf (kafkaTopic: string): string {
  const slash = kafkaTopic.indexOf('/')
  return slash < 0 ? kafkaTopic : kafkaTopic.slice(0, slash)
}

/** The silence step of an inactivity check (`7d` of `user-events/silence-7d`); null for any other row. */
export function silenceStepOf (kafkaTopic: string): string | null {
  const at = kafkaTopic.indexOf('/silence-')
  return at < 0 ? null : kafkaTopic.slice(at + '/silence-'.length)
}

/** A silence step's length in whole days, as rows and records name it (`silence_days`); hours below a day keep their fraction. */
export function silenceDays (policy: SilencePolicy, step: number): number {
  return Math.round(((policy.stepsMs[step] ?? 0) / DAY) * 1000) / 1000
}

/**
 * One partition's customers by the time their next silence step is due: a binary min-heap of
 * (due, id) with the current due time per customer beside it. A customer whose due time changes is
 * pushed again and its older entry left in place, to be skipped when it surfaces; the heap is
 * compacted when the stale entries outnumber the live ones. Push and pop are O(log n): a batch
 * never scans the customers, it takes only what is due.
 */
export class DueIndex {
  #heap = new KeyedMinHeap<string>()
  readonly #dueOf = new Map<string, number>()
  /** The latest event time applied from each source topic of the partition. */
  readonly #topicTimes = new Map<string, number>()
  /**
   * The partition's event-time watermark: how far every source topic of the partition has come
   * (the least of their latest event times, as Kafka Streams' stream time over several inputs),
   * or the wall clock when the partition is live and idle. One topic read ahead of the other
   * cannot pass a customer's step while their event on the other topic is still to come, so the
   * steps scored do not depend on how the topics' fetches interleave. 0 until an event comes.
   */
  watermark = 0
  /** The latest activity among the customers restored here: until an event comes, the live check starts from it. */
  restoredAt = 0

  /**
   * `topics`: the partition's source topics. Until each has brought an event (or `release` says
   * the ones still silent have nothing to bring), the watermark waits: a topic not read yet may
   * hold a customer's activity older than a step the other topic's events have passed.
   */
  constructor (topics: readonly string[] = []) {
    for (const topic of topics) this.#topicTimes.set(topic, 0)
  }

  /** Notes an applied event's time on its topic, moving the watermark on when every topic has passed it. */
  observe (topic: string, time: number): void {
    const before = this.#topicTimes.get(topic)
    if (before !== undefined && before >= time) return
    this.#topicTimes.set(topic, time)
    this.#recompute()
  }

  /** The processor has caught up on every partition: the topics that brought nothing have nothing to bring, and wait no more. */
  release (): void {
    for (const [topic, time] of this.#topicTimes) if (time === 0) this.#topicTimes.delete(topic)
    this.#recompute()
  }

  #recompute (): void {
    let least = Number.POSITIVE_INFINITY
    for (const t of this.#topicTimes.values()) if (t < least) least = t
    if (least !== Number.POSITIVE_INFINITY && least > this.watermark) this.watermark = least
  }

  /**
   * Moves the watermark on to the wall clock `now` when the partition is live (its watermark at
   * most `liveWindowMs` behind); a history replayed from long ago stays on its own event time.
   * Called every idle second, a live partition's watermark follows the clock.
   */
  advanceTo (now: number, liveWindowMs: number): void {
    const from = this.watermark > 0 ? this.watermark : this.restoredAt
    if (from > 0 && now > this.watermark && now - from <= liveWindowMs) this.watermark = now
  }

  /** Customers with a step still to come. */
  get size (): number {
    return this.#dueOf.size
  }

  /** Heap entries, stale ones included (for the benchmark). */
  get entries (): number {
    return this.#heap.size
  }

  /** The earliest due time, or Infinity when nothing is due ever. */
  peek (): number {
    const heap = this.#heap
    while (heap.size > 0) {
      if (this.#dueOf.get(heap.peek() as string) === heap.peekKey()) return heap.peekKey()
      heap.pop()
    }
    return Number.POSITIVE_INFINITY
  }

  /** Sets a customer's next due time; undefined removes them (no step left). */
  set (id: string, due: number | undefined): void {
    const current = this.#dueOf.get(id)
    if (current === due) return
    if (due === undefined) {
      this.#dueOf.delete(id)
      return
    }
    this.#dueOf.set(id, due)
    this.#heap.push(due, id)
    if (this.#heap.size > 1024 && this.#heap.size > 2 * this.#dueOf.size) this.#compact()
  }

  /**
   * The customers due at or before `upTo`, earliest first, at most `limit` of them, taken out of
   * the index (their next step is `set` again by the caller); the rest wait for the next take.
   */
  takeDue (upTo: number, limit = Number.POSITIVE_INFINITY): string[] {
    const out: string[] = []
    while (out.length < limit && this.peek() <= upTo) {
      const id = this.#heap.peek() as string
      this.#heap.pop()
      this.#dueOf.delete(id)
      out.push(id)
    }
    return out
  }

  /** Rebuilds the heap from the live entries only. */
  #compact (): void {
    const entries = [...this.#dueOf].sort((a, b) => a[1] - b[1])
    this.#heap = KeyedMinHeap.fromSorted(entries.map(e => e[1]), entries.map(e => e[0]))
  }
}
