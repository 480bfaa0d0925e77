import type { Stream } from '../events/index.ts'
import type { SimRecord } from '../simulator/index.ts'
import type { OutRecord, RecordSource } from './types.ts'

export type TopicNames = Readonly<Record<Stream, string>>

export interface Generator {
  next (now: number): SimRecord | undefined
}

/** Adapts a simulator generator to a record source: serializes, picks topics, filters streams. */
export function simulatorSource (generator: Generator, topics: TopicNames, options: {
  streams?: ReadonlySet<Stream>
  onRecord?: (record: SimRecord) => void
  close?: () => Promise<void>
} = {}): RecordSource {
  let dry = false
  return {
    take (max, now) {
      const out: OutRecord[] = []
      while (out.length < max && !dry) {
        const record = generator.next(now)
        if (record === undefined) {
          dry = true
          break
        }
        options.onRecord?.(record)
        if (options.streams !== undefined && !options.streams.has(record.stream)) continue
        out.push({
          topic: topics[record.stream],
          key: record.key,
          payload: JSON.stringify(record.value),
          time: record.time,
          event: record.value as unknown as Record<string, unknown>
        })
      }
      return out
    },
    close: options.close
  }
}
