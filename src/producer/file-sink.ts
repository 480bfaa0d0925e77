import { createWriteStream, type WriteStream } from 'node:fs'
import { once } from 'node:events'
import type { Writable } from 'node:stream'
import type { DeliveryReport, OutRecord, RecordSink } from './types.ts'

/** Writes each record's value as one JSON line, to a file or to stdout (`-`). */
export class FileSink implements RecordSink {
  readonly #out: Writable
  readonly #ownStream: WriteStream | undefined
  readonly #onDelivery: (report: DeliveryReport) => void

  constructor (path: string, onDelivery: (report: DeliveryReport) => void) {
    this.#ownStream = path === '-' ? undefined : createWriteStream(path)
    this.#out = this.#ownStream ?? process.stdout
    this.#onDelivery = onDelivery
  }

  async write (records: readonly OutRecord[]): Promise<void> {
    let text = ''
    for (const r of records) text += r.payload + '\n'
    const ok = this.#out.write(text)
    this.#onDelivery({ records })
    if (!ok) await once(this.#out, 'drain')
  }

  async flush (): Promise<void> {
    // Writes are counted when handed to the stream; close() waits until they are on disk.
  }

  async close (): Promise<void> {
    if (this.#ownStream === undefined) return
    const stream = this.#ownStream
    await new Promise<void>((resolve, reject) => {
      stream.once('error', reject)
      stream.end(() => { resolve() })
    })
  }
}
