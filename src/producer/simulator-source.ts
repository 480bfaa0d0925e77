import type { Stream } from '../events/index.ts'
import type { SimRecord } from '../simulator/index.ts'
import type { OutRecord, RecordSource } from './types.ts'

export type TopicNames = Readonly<Record<Stream, string>>

export interface Generator {
  next (now: number): SimRecord | undefined
}

export interface SimulatorSourceOptions {
  readonly streams?: ReadonlySet<Stream>
  readonly onRecord?: (record: SimRecord) => void
  readonly close?: () => Promise<void>
  /**
   * A live stream: a record is handed out only once its event time has come (the wall clock
   * `now` given to `take`), so no record is ever stamped in the future, which Kafka's brokers
   * refuse beyond `log.message.timestamp.after.max.ms` (an hour by default). The pace then caps
   * the generator's own rate instead of stretching its simulated time.
   */
  readonly live?: boolean
}

const outRecord = (record: SimRecord, topics: TopicNames): OutRecord => ({
  topic: topics[record.stream],
  key: record.key,
  payload: JSON.stringify(record.value),
  time: record.time,
  event: record.value as unknown as Record<string, unknown>
})

/** Adapts a simulator generator to a record source: serializes, picks topics, filters streams. */
export function simulatorSource (generator: Generator, topics: TopicNames, options: SimulatorSourceOptions = {}): RecordSource {
  let dry = false
  /** A record drawn but not yet due (live streams only). */
  let ahead: SimRecord | undefined
  const draw = (now: number): SimRecord | undefined => {
    if (ahead === undefined && !dry) {
      ahead = generator.next(now)
      if (ahead === undefined) dry = true
    }
    return ahead
  }
  return {
    take (max, now) {
      const out: OutRecord[] = []
      while (out.length < max) {
        const record = draw(now)
        if (record === undefined || (options.live === true && record.time > now)) break
        ahead = undefined
        options.onRecord?.(record)
        if (options.streams !== undefined && !options.streams.has(record.stream)) continue
        out.push(outRecord(record, topics))
      }
      return out
    },
    ...(options.live === true ? { peekTime: () => draw(Date.now())?.time } : {}),
    close: options.close
  }
}
