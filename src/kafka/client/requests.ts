import { chunkBySize } from '../../util/chunks.ts'

/**
 * Bytes of records (keys and values, before compression) in one Produce request. The producer
 * writes one record batch per partition per request, and a broker refuses a batch over its
 * `max.message.bytes` (1 MiB by default). Compression usually keeps a batch far below that, but
 * not with KAFKA_COMPRESSION=none or records that do not compress: a batch of 5,000 fraud
 * predictions is about 2 MB of JSON. Bounding the request's uncompressed bytes bounds every
 * partition's batch in it, whatever the compression.
 */
export const REQUEST_BYTES = 512 * 1024

/** What a record counts for against REQUEST_BYTES: its key, its value and a little framing. */
interface Sized { readonly key?: Buffer | null | undefined, readonly value?: Buffer | null | undefined }

/**
 * The records in order, cut into requests of at most `maxBytes` (a record larger than that goes
 * alone, and the broker decides). Sent one request after another, they keep every partition's order.
 */
export function requestChunks<M extends Sized> (records: readonly M[], maxBytes = REQUEST_BYTES): M[][] {
  return chunkBySize(records, r => (r.key?.length ?? 0) + (r.value?.length ?? 0) + 16, maxBytes)
}
