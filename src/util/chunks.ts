/**
 * The items in order, cut into runs of at most `maxBytes` (by `sizeOf`) and `maxItems`. An item
 * larger than `maxBytes` goes alone; no run is empty.
 */
export function chunkBySize<T> (items: readonly T[], sizeOf: (item: T) => number, maxBytes: number, maxItems = Infinity): T[][] {
  const out: T[][] = []
  let chunk: T[] = []
  let bytes = 0
  for (const item of items) {
    const size = sizeOf(item)
    if (chunk.length > 0 && (chunk.length >= maxItems || bytes + size > maxBytes)) {
      out.push(chunk)
      chunk = []
      bytes = 0
    }
    chunk.push(item)
    bytes += size
  }
  if (chunk.length > 0) out.push(chunk)
  return out
}
