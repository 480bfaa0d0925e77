/** One record on its way out: where it goes, its key, its exact bytes and its event time. */
export interface OutRecord {
  readonly topic: string
  readonly key: string
  /** The value as it will be written: JSON text. */
  readonly payload: string
  /** Event time, epoch ms; also the Kafka record timestamp. */
  readonly time: number
  /** The event as an object, for the per-event console line. */
  readonly event: Readonly<Record<string, unknown>>
}

/** Where records come from: the simulator or a recorded file. */
export interface RecordSource {
  /**
   * Up to `max` records; fewer (or none) when the source has run dry. `now` is the wall clock;
   * `until`, for recorded pace, stops at the first record whose event time is later.
   */
  take (max: number, now: number, until?: number): OutRecord[] | Promise<OutRecord[]>
  /** Event time of the next record, for recorded pace; undefined when none is left or the source cannot tell. */
  peekTime? (): number | undefined | Promise<number | undefined>
  /** Called once at the end, whatever happened: write truth files, close inputs. */
  close? (): Promise<void>
}

/** Where records go. */
export interface RecordSink {
  /** Resolves once the records are accepted (not yet acknowledged); waits while too many are in flight. */
  write (records: readonly OutRecord[]): Promise<void>
  /** Resolves when every accepted record is acknowledged or counted as failed. */
  flush (): Promise<void>
  close (): Promise<void>
}

export interface DeliveryReport {
  readonly records: readonly OutRecord[]
  /** Partition and offset of the first record, when one record went alone. */
  readonly partition?: number
  readonly offset?: bigint
  readonly error?: Error
  /** For a failed batch: how long it was tried, from its send to the final failure, ms. */
  readonly elapsedMs?: number
  /** For a failed batch: whether the failure was one that is retried (a broker away), or a refusal for good. */
  readonly retriable?: boolean
}

export const Paces = { INTERVAL: 'interval', RATE: 'rate', MAX: 'max', RECORDED: 'recorded' } as const
export type Pace =
  | { readonly kind: typeof Paces.INTERVAL, readonly seconds: number }
  | { readonly kind: typeof Paces.RATE, readonly perSecond: number }
  | { readonly kind: typeof Paces.MAX }
  /** Replay: events keep their recorded spacing, divided by `speed`. */
  | { readonly kind: typeof Paces.RECORDED, readonly speed: number }
