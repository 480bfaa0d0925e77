/**
 * Kafka's murmur2 (the Java client's `Utils.murmur2`) in 32-bit integer arithmetic. The Kafka
 * client's own port works in BigInt, which allocates a dozen heap numbers per key: on a
 * processor sending tens of thousands of predictions a second that was 550 bytes of garbage per
 * record. This one allocates nothing and returns the same hash.
 */
export function murmur2 (data: Uint8Array): number {
  const m = 0x5bd1e995
  const length = data.length
  let h = (0x9747b28c ^ length) | 0
  const whole = length & ~3
  for (let i = 0; i < whole; i += 4) {
    let k = (data[i] as number) | ((data[i + 1] as number) << 8) | ((data[i + 2] as number) << 16) | ((data[i + 3] as number) << 24)
    k = Math.imul(k, m)
    k ^= k >>> 24
    k = Math.imul(k, m)
    h = Math.imul(h, m) ^ k
  }
  const rest = length & 3
  if (rest > 0) {
    if (rest === 3) h ^= (data[whole + 2] as number) << 16
    if (rest >= 2) h ^= (data[whole + 1] as number) << 8
    h ^= data[whole] as number
    h = Math.imul(h, m)
  }
  h ^= h >>> 13
  h = Math.imul(h, m)
  h ^= h >>> 15
  return h
}

/**
 * The partition a key goes to, as the Java client's default partitioner places keyed records:
 * `toPositive(murmur2(key)) % partitions`. (The producer takes the remainder by the topic's
 * partition count itself.) A record without a key goes to partition 0, as with the client's
 * `compatibilityPartitioner`, which this replaces.
 */
export function javaCompatiblePartitioner (_message: unknown, key: Buffer | undefined): number {
  return Buffer.isBuffer(key) ? murmur2(key) & 0x7fffffff : 0
}
