import type { CustomerEvent, Stream, Transaction, UserEvent } from '../events/index.ts'

/** One event the simulator made, ready to produce: its stream, its Kafka key and its event time. */
export interface SimRecord {
  readonly stream: Stream
  readonly key: string
  readonly value: UserEvent | CustomerEvent | Transaction
  /** Event time, epoch ms. */
  readonly time: number
}
