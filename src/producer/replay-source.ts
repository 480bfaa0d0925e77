import { createReadStream } from 'node:fs'
import { createInterface } from 'node:readline'
import { parseEventTime, Streams, type Stream } from '../events/index.ts'
import { ChurnflowError, ErrorCodes } from '../errors.ts'
import { CsvRows } from './csv.ts'
import type { TopicNames } from './simulator-source.ts'
import type { OutRecord, RecordSource } from './types.ts'

export const ReplayFormats = { JSONL: 'jsonl', CSV: 'csv' } as const
export type ReplayFormat = (typeof ReplayFormats)[keyof typeof ReplayFormats]

export interface ReplayOptions {
  readonly path: string
  readonly format: ReplayFormat
  readonly topics: TopicNames
  /** Every record goes to this topic instead of the one its shape names. */
  readonly topic?: string
  /** CSV: event field = CSV column, for user_id/customer_id/event_type/timestamp and friends. */
  readonly mapping?: Readonly<Record<string, string>>
  /** CSV rows become events of this stream (user-events unless said). */
  readonly stream?: Stream
  /** A line that is not an event: counted by the caller as failed, never dropped silently. */
  readonly onInvalid: (line: number, reason: string) => void
}

interface Routed { stream: Stream, key: string }

/** Which stream an event belongs to, by its fields, and its Kafka key. */
export function routeEvent (event: Readonly<Record<string, unknown>>): Routed | undefined {
  const id = (v: unknown): string | undefined => (typeof v === 'string' && v !== '') || typeof v === 'number' ? String(v) : undefined
  if (id(event.transaction_id) !== undefined && id(event.account_id) !== undefined) return { stream: Streams.TRANSACTIONS, key: id(event.account_id) as string }
  if (id(event.customer_id) !== undefined) return { stream: Streams.CUSTOMER_EVENTS, key: id(event.customer_id) as string }
  if (id(event.user_id) !== undefined) return { stream: Streams.USER_EVENTS, key: id(event.user_id) as string }
  return undefined
}

const numeric = (text: string): string | number => (/^-?\d+(\.\d+)?$/.test(text) && text.length < 16 ? Number(text) : text)

/**
 * Replays recorded events from JSONL (each line one event, written to Kafka byte for byte) or CSV
 * (a header row, columns mapped onto event fields, the rest into metadata/data), keeping each
 * event's key and timestamp.
 */
export function replaySource (options: ReplayOptions): RecordSource {
  const input = createReadStream(options.path)
  const lines = createInterface({ input, crlfDelay: Infinity })[Symbol.asyncIterator]()
  const buffer: OutRecord[] = []
  let lineNo = 0
  let done = false
  let header: string[] | undefined
  const csv = new CsvRows()
  const opened = new Promise<void>((resolve, reject) => {
    input.once('open', () => { resolve() })
    input.once('error', error => {
      reject(new ChurnflowError(ErrorCodes.USAGE, `cannot read ${options.path}: ${error.message}`, { exitCode: 2 }))
    })
  })

  const toRecord = (event: Record<string, unknown>, payload: string): OutRecord | undefined => {
    const routed = routeEvent(event)
    if (routed === undefined) {
      options.onInvalid(lineNo, 'no user_id, customer_id or transaction_id/account_id to key it by')
      return undefined
    }
    const time = typeof event.timestamp === 'string' ? parseEventTime(event.timestamp) : undefined
    if (time === undefined) {
      options.onInvalid(lineNo, `timestamp ${JSON.stringify(event.timestamp ?? null)} is not an ISO 8601 time`)
      return undefined
    }
    return { topic: options.topic ?? options.topics[routed.stream], key: routed.key, payload, time, event }
  }

  const fromCsv = (fields: string[]): OutRecord | undefined => {
    if (header === undefined) {
      header = fields.map(f => f.trim())
      const mapping = options.mapping ?? {}
      for (const column of Object.values(mapping)) {
        if (!header.includes(column)) throw new ChurnflowError(ErrorCodes.USAGE, `--map names column "${column}", which ${options.path} does not have (it has ${header.join(', ')})`, { exitCode: 2 })
      }
      return undefined
    }
    if (fields.length === 1 && fields[0] === '') return undefined
    const mapping = options.mapping ?? {}
    const byColumn = new Map(Object.entries(mapping).map(([field, column]) => [column, field]))
    const event: Record<string, unknown> = {}
    const extra: Record<string, unknown> = {}
    header.forEach((column, i) => {
      const value = fields[i] ?? ''
      const field = byColumn.get(column) ?? (['user_id', 'customer_id', 'event_id', 'event_type', 'timestamp'].includes(column) ? column : undefined)
      if (field === undefined) extra[column] = numeric(value)
      else event[field] = field === 'user_id' ? numeric(value) : value
    })
    const stream = options.stream ?? (event.customer_id !== undefined ? Streams.CUSTOMER_EVENTS : Streams.USER_EVENTS)
    if (stream === Streams.CUSTOMER_EVENTS) event.data = extra
    else event.metadata = extra
    return toRecord(event, JSON.stringify(event))
  }

  const fill = async (want: number): Promise<void> => {
    await opened
    while (!done && buffer.length < want) {
      const next = await lines.next()
      if (next.done === true) {
        done = true
        if (csv.unterminated) options.onInvalid(lineNo, 'the file ends inside a quoted CSV field')
        break
      }
      lineNo++
      const line = next.value
      let record: OutRecord | undefined
      if (options.format === ReplayFormats.CSV) {
        const fields = csv.push(line)
        if (fields !== undefined) record = fromCsv(fields)
      } else {
        if (line.trim() === '') continue
        let event: unknown
        try {
          event = JSON.parse(line)
        } catch {
          options.onInvalid(lineNo, 'not JSON')
          continue
        }
        if (typeof event !== 'object' || event === null || Array.isArray(event)) {
          options.onInvalid(lineNo, 'not a JSON object')
          continue
        }
        record = toRecord(event as Record<string, unknown>, line)
      }
      if (record !== undefined) buffer.push(record)
    }
  }

  return {
    async take (max, _now, until?: number) {
      await fill(max)
      let n = 0
      while (n < buffer.length && n < max && (until === undefined || (buffer[n] as OutRecord).time <= until)) n++
      return buffer.splice(0, n)
    },
    async peekTime () {
      await fill(1)
      return buffer[0]?.time
    },
    async close () {
      input.destroy()
    }
  }
}
