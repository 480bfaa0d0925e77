/**
 * A small, fast, seedable random source (sfc32), so that the same `--seed` gives the same events
 * on every machine. Not for cryptography.
 */
export class Rng {
  #a: number
  #b: number
  #c: number
  #d: number

  constructor (seed: number) {
    // splitmix32 spreads a small seed over the four words of state.
    let s = seed >>> 0
    const next = (): number => {
      s = (s + 0x9e3779b9) >>> 0
      let z = s
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0
      return (z ^ (z >>> 16)) >>> 0
    }
    this.#a = next()
    this.#b = next()
    this.#c = next()
    this.#d = next()
    for (let i = 0; i < 12; i++) this.next()
  }

  /** A float in [0, 1). */
  next (): number {
    const t = (((this.#a + this.#b) >>> 0) + this.#d) >>> 0
    this.#d = (this.#d + 1) >>> 0
    this.#a = this.#b ^ (this.#b >>> 9)
    this.#b = (this.#c + (this.#c << 3)) >>> 0
    this.#c = (this.#c << 21) | (this.#c >>> 11)
    this.#c = (this.#c + t) >>> 0
    return t / 4294967296
  }

  /** A derived, independent source: customer i's own stream, say. */
  fork (salt: number): Rng {
    return new Rng((Math.floor(this.next() * 4294967296) ^ Math.imul(salt + 1, 0x9e3779b1)) >>> 0)
  }

  /** An integer in [min, max], both included. */
  int (min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1))
  }

  uniform (min: number, max: number): number {
    return min + this.next() * (max - min)
  }

  chance (p: number): boolean {
    return this.next() < p
  }

  pick<T> (items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)] as T
  }

  /** An exponential waiting time of the given rate. */
  exponential (rate: number): number {
    return -Math.log(1 - this.next()) / rate
  }

  normal (mean = 0, sd = 1): number {
    const u = 1 - this.next()
    const v = this.next()
    return mean + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
  }

  /** A log-normal draw whose mean (not median) is `mean`. */
  lognormal (mean: number, sigma: number): number {
    return mean * Math.exp(this.normal(-sigma * sigma / 2, sigma))
  }

  /** A geometric count >= 1 with the given mean. */
  geometric (mean: number): number {
    const p = 1 / mean
    return 1 + Math.floor(Math.log(1 - this.next()) / Math.log(1 - p))
  }
}

/** Picks keys by weight; built once, drawn from many times. */
export class WeightedChoice<K> {
  readonly #keys: K[]
  readonly #cumulative: number[]

  constructor (weights: Iterable<readonly [K, number]>) {
    this.#keys = []
    this.#cumulative = []
    let total = 0
    for (const [key, weight] of weights) {
      if (weight <= 0) continue
      total += weight
      this.#keys.push(key)
      this.#cumulative.push(total)
    }
    if (total === 0) throw new Error('WeightedChoice needs a positive weight')
    for (let i = 0; i < this.#cumulative.length; i++) this.#cumulative[i] = (this.#cumulative[i] as number) / total
  }

  draw (rng: Rng): K {
    const u = rng.next()
    const cumulative = this.#cumulative
    let i = 0
    while (i < cumulative.length - 1 && (cumulative[i] as number) <= u) i++
    return this.#keys[i] as K
  }
}

export const round = (value: number, digits: number): number => {
  const f = 10 ** digits
  return Math.round(value * f) / f
}
