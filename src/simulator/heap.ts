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
