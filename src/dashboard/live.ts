import type { ServerResponse } from 'node:http'
import type { Logger } from '../logging/index.ts'

/** One server-sent event: its name and JSON data. */
export interface LiveEvent { readonly event: string, readonly data: unknown }

export interface LiveHubOptions {
  /** Called every `intervalMs` while at least one browser listens; resolves to the events to send. */
  readonly poll: () => Promise<LiveEvent[]>
  readonly intervalMs: number
  readonly log: Logger
  /** Called when the last listener leaves and polling stops. */
  readonly onIdle?: () => void
}

/**
 * Server-sent events to every open dashboard page. It polls only while someone listens, sends a
 * comment every 15 s so proxies keep the stream open, and ends every stream on close.
 */
export class LiveHub {
  readonly #options: LiveHubOptions
  readonly #clients = new Set<ServerResponse>()
  #timer: NodeJS.Timeout | undefined
  #keepAlive: NodeJS.Timeout | undefined
  #polling = false

  constructor (options: LiveHubOptions) {
    this.#options = options
  }

  get listeners (): number {
    return this.#clients.size
  }

  /** Takes over a response as an event stream. */
  add (response: ServerResponse): void {
    response.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' })
    response.write('retry: 2000\n\n')
    this.#clients.add(response)
    response.on('close', () => {
      this.#clients.delete(response)
      if (this.#clients.size === 0) {
        this.#stop()
        this.#options.onIdle?.()
      }
    })
    this.#start()
  }

  /** Sends an event to every listener now. */
  broadcast (event: LiveEvent): void {
    if (this.#clients.size === 0) return
    const text = `event: ${event.event}\ndata: ${JSON.stringify(event.data)}\n\n`
    for (const client of this.#clients) client.write(text)
  }

  #start (): void {
    if (this.#timer !== undefined) return
    this.#timer = setInterval(() => { void this.#tick() }, this.#options.intervalMs)
    this.#keepAlive = setInterval(() => { for (const c of this.#clients) c.write(': keep-alive\n\n') }, 15_000)
    void this.#tick()
  }

  async #tick (): Promise<void> {
    if (this.#polling) return
    this.#polling = true
    try {
      for (const event of await this.#options.poll()) this.broadcast(event)
    } catch (error) {
      this.#options.log.warn({ err: error }, 'the dashboard\'s live update failed; trying again')
    } finally {
      this.#polling = false
    }
  }

  #stop (): void {
    clearInterval(this.#timer)
    clearInterval(this.#keepAlive)
    this.#timer = undefined
    this.#keepAlive = undefined
  }

  close (): void {
    this.#stop()
    for (const c of this.#clients) c.end()
    this.#clients.clear()
  }
}
