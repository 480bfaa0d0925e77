import { createClient } from 'redis'
import { emptyProfile, profileFields, type CustomerProfile } from '../profile.ts'

export interface RedisProfileStoreOptions {
  readonly host: string
  readonly port: number
  readonly password?: string
  /** Prefix of the profile keys; one hash per customer at `<prefix><customer id>`. */
  readonly prefix?: string
  /** How long a command may wait for Redis before it fails, in ms. */
  readonly timeoutMs?: number
}

/**
 * Customer profiles in Redis, one hash per customer whose fields are the profile's fields.
 * Reads here; the processor writes through the same layout.
 */
export class RedisProfileStore {
  readonly name: string
  readonly #client: ReturnType<typeof createClient>
  readonly #prefix: string
  readonly #timeoutMs: number
  #connecting: Promise<unknown> | undefined
  #closed = false

  constructor (options: RedisProfileStoreOptions) {
    this.name = `redis ${options.host}:${options.port}`
    this.#prefix = options.prefix ?? 'churnflow:profile:'
    this.#timeoutMs = options.timeoutMs ?? 2000
    this.#client = createClient({
      socket: {
        host: options.host,
        port: options.port,
        connectTimeout: options.timeoutMs ?? 2000,
        // Keep trying in the background with a bounded backoff; commands fail fast meanwhile.
        reconnectStrategy: retries => Math.min(2000, 50 * 2 ** Math.min(retries, 6))
      },
      ...(options.password === undefined ? {} : { password: options.password }),
      disableOfflineQueue: true,
      commandOptions: { timeout: options.timeoutMs ?? 2000 }
    })
    // Errors surface on the commands that fail; the client's own error events would otherwise crash.
    this.#client.on('error', () => undefined)
  }

  /**
   * Connects if need be, but waits at most the timeout: the client keeps reconnecting in the
   * background, and a caller learns now that Redis is not there rather than waiting for it.
   */
  async #ready (): Promise<void> {
    if (this.#closed) throw new Error(`${this.name}: the store is closed`)
    if (this.#client.isReady) return
    this.#connecting ??= this.#client.connect().catch(() => undefined).finally(() => { this.#connecting = undefined })
    let timer: ReturnType<typeof setTimeout> | undefined
    const deadline = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => { reject(new Error(`${this.name} did not answer within ${this.#timeoutMs} ms`)) }, this.#timeoutMs)
    })
    try {
      await Promise.race([this.#connecting, deadline])
    } finally {
      clearTimeout(timer)
    }
    if (!this.#client.isReady) throw new Error(`${this.name} is not reachable`)
  }

  key (customerId: string): string {
    return `${this.#prefix}${customerId}`
  }

  async get (customerId: string): Promise<CustomerProfile | undefined> {
    await this.#ready()
    const hash = await this.#client.hGetAll(this.key(customerId))
    if (Object.keys(hash).length === 0) return undefined
    const profile = emptyProfile()
    for (const field of profileFields) {
      const v = hash[field]
      if (v !== undefined) profile[field] = Number(v)
    }
    return profile
  }

  async put (customerId: string, profile: CustomerProfile): Promise<void> {
    await this.#ready()
    await this.#client.hSet(this.key(customerId), Object.fromEntries(profileFields.map(f => [f, String(profile[f])])))
  }

  async delete (customerId: string): Promise<void> {
    await this.#ready()
    await this.#client.del(this.key(customerId))
  }

  async ping (): Promise<void> {
    await this.#ready()
    await this.#client.ping()
  }

  /** Deletes every profile under this store's prefix (SCAN, then DEL in batches). */
  async clear (): Promise<number> {
    await this.#ready()
    let deleted = 0
    for await (const keys of this.#client.scanIterator({ MATCH: `${this.#prefix}*`, COUNT: 500 })) {
      if (keys.length > 0) deleted += await this.#client.del(keys)
    }
    return deleted
  }

  async close (): Promise<void> {
    this.#closed = true
    // A client still trying to connect has nothing to flush: stop its reconnecting at once.
    if (this.#client.isReady) await this.#client.close()
    else if (this.#client.isOpen) this.#client.destroy()
  }
}
