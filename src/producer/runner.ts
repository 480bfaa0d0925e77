import { setTimeout as sleep } from 'node:timers/promises'
import type { ProducerStats } from './stats.ts'
import { Paces, type Pace, type RecordSink, type RecordSource } from './types.ts'

export interface RunOptions {
  readonly source: RecordSource
  readonly sink: RecordSink
  readonly pace: Pace
  readonly stats: ProducerStats
  /** Stop after this many records. */
  readonly count?: number
  /** Stop after this long. */
  readonly durationMs?: number
  /** Most records in one batch. */
  readonly batchSize: number
  /** Aborting stops generating; what is in flight is still awaited. */
  readonly signal: AbortSignal
}

async function pause (ms: number, signal: AbortSignal): Promise<void> {
  try {
    await sleep(Math.max(1, Math.min(ms, 1000)), undefined, { signal })
  } catch {
    // aborted: the loop sees it
  }
}

/**
 * Moves records from the source to the sink at the asked pace until the count, the duration, the
 * source or an abort ends it, then waits for every batch in flight to be answered.
 */
export async function runProducer (options: RunOptions): Promise<void> {
  const { source, sink, pace, stats, signal } = options
  const count = options.count ?? Infinity
  const started = performance.now()
  let firstEventTime: number | undefined
  while (!signal.aborted && stats.generated < count) {
    const elapsed = performance.now() - started
    if (options.durationMs !== undefined && elapsed >= options.durationMs) break
    let allowed: number
    let until: number | undefined
    switch (pace.kind) {
      case Paces.INTERVAL:
        allowed = Math.floor(elapsed / (pace.seconds * 1000)) + 1 - stats.generated
        if (allowed <= 0) await pause(started + stats.generated * pace.seconds * 1000 - performance.now(), signal)
        break
      case Paces.RATE:
        allowed = Math.floor(elapsed * pace.perSecond / 1000) + 1 - stats.generated
        if (allowed <= 0) await pause(started + stats.generated * 1000 / pace.perSecond - performance.now(), signal)
        break
      case Paces.MAX:
        allowed = options.batchSize
        break
      case Paces.RECORDED: {
        const next = await source.peekTime?.()
        if (next === undefined) {
          allowed = options.batchSize
          break
        }
        firstEventTime ??= next
        until = firstEventTime + elapsed * pace.speed
        allowed = next <= until ? options.batchSize : 0
        if (allowed === 0) await pause((next - until) / pace.speed, signal)
        break
      }
    }
    if (allowed <= 0 || signal.aborted) continue
    const records = await source.take(Math.min(allowed, options.batchSize, count - stats.generated), Date.now(), until)
    if (records.length === 0) {
      // A source that holds records back until their time (a live simulation) is not dry yet.
      const next = await source.peekTime?.()
      if (next === undefined) break
      if (pace.kind !== Paces.RECORDED) await pause(next - Date.now(), signal)
      continue
    }
    stats.generated += records.length
    stats.firstSendAt ??= Date.now()
    await sink.write(records)
  }
  await sink.flush()
  stats.lastAnswerAt = Date.now()
}
