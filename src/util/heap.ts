/** A binary min-heap ordered by a numeric key read from each item. */
export class MinHeap<T> {
  readonly #items: T[] = []
  readonly #key: (item: T) => number

  constructor (key: (item: T) => number) {
    this.#key = key
  }

  get size (): number {
    return this.#items.length
  }

  peek (): T | undefined {
    return this.#items[0]
  }

  push (item: T): void {
    const items = this.#items
    items.push(item)
    let i = items.length - 1
    const k = this.#key(item)
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (this.#key(items[parent] as T) <= k) break
      items[i] = items[parent] as T
      i = parent
    }
    items[i] = item
  }

  pop (): T | undefined {
    const items = this.#items
    const top = items[0]
    const last = items.pop()
    if (items.length > 0 && last !== undefined) {
      let i = 0
      const k = this.#key(last)
      const n = items.length
      for (;;) {
        const l = 2 * i + 1
        if (l >= n) break
        const r = l + 1
        const child = r < n && this.#key(items[r] as T) < this.#key(items[l] as T) ? r : l
        if (this.#key(items[child] as T) >= k) break
        items[i] = items[child] as T
        i = child
      }
      items[i] = last
    }
    return top
  }
}

/**
 * A binary min-heap of items under numeric keys kept in arrays beside them: no object per entry
 * and no key function to call, for heaps of a million entries (the silence sweeps' due times, the
 * at-risk ranking's best scores).
 */
export class KeyedMinHeap<T> {
  #keys: number[] = []
  #items: T[] = []

  /** A heap holding these entries, which must be sorted by key (a sorted array is a heap). */
  static fromSorted<T> (keys: number[], items: T[]): KeyedMinHeap<T> {
    const heap = new KeyedMinHeap<T>()
    heap.#keys = keys
    heap.#items = items
    return heap
  }

  get size (): number {
    return this.#keys.length
  }

  /** The least key; Infinity when empty. */
  peekKey (): number {
    return this.#keys.length === 0 ? Number.POSITIVE_INFINITY : this.#keys[0] as number
  }

  /** The item under the least key. */
  peek (): T | undefined {
    return this.#items[0]
  }

  push (key: number, item: T): void {
    const keys = this.#keys
    const items = this.#items
    let i = keys.length
    keys.push(key)
    items.push(item)
    while (i > 0) {
      const parent = (i - 1) >>> 1
      if ((keys[parent] as number) <= key) break
      keys[i] = keys[parent] as number
      items[i] = items[parent] as T
      i = parent
    }
    keys[i] = key
    items[i] = item
  }

  /** Removes the entry under the least key. */
  pop (): void {
    const key = this.#keys.pop()
    const item = this.#items.pop() as T
    if (key === undefined || this.#keys.length === 0) return
    this.#siftDown(key, item)
  }

  /** Replaces the entry under the least key with this one: a pop and a push in one sift. */
  replaceTop (key: number, item: T): void {
    if (this.#keys.length === 0) this.push(key, item)
    else this.#siftDown(key, item)
  }

  /** Every entry, in no particular order. */
  entries (): { key: number, item: T }[] {
    return this.#keys.map((key, i) => ({ key, item: this.#items[i] as T }))
  }

  #siftDown (key: number, item: T): void {
    const keys = this.#keys
    const items = this.#items
    const n = keys.length
    let i = 0
    for (;;) {
      let child = 2 * i + 1
      if (child >= n) break
      if (child + 1 < n && (keys[child + 1] as number) < (keys[child] as number)) child++
      if ((keys[child] as number) >= key) break
      keys[i] = keys[child] as number
      items[i] = items[child] as T
      i = child
    }
    keys[i] = key
    items[i] = item
  }
}
