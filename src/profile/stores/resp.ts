import { connect, type Socket } from 'node:net'

/** An error reply (`-ERR …`, `-NOSCRIPT …`): a value in the reply list, not a thrown error. */
export class RespError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'RespError'
  }
}

/** A RESP2 reply: bulk or simple string, integer, nil, error reply, or an array of those. */
export type RespReply = string | number | null | RespError | RespReply[]

/** `$<bytes>\r\n<text>\r\n`: one argument of a command. */
export function bulk (text: string): string {
  return `$${Buffer.byteLength(text)}\r\n${text}\r\n`
}

/** `$<length>\r\n<text>\r\n` for text known to be ASCII (numbers, constant names): no byte count needed. */
export function asciiBulk (text: string): string {
  return `$${text.length}\r\n${text}\r\n`
}

/** One command as RESP, for commands built from arbitrary strings. */
export function command (args: readonly string[]): string {
  let out = `*${args.length}\r\n`
  for (const a of args) out += bulk(a)
  return out
}

/**
 * A pipeline's commands written into one buffer as they are made: each command is a short string
 * copied in while it is still in the cache, where one string of a whole batch (a rope of tens of
 * thousands of pieces) cost a flattening and a second pass to encode it.
 */
export class RespBuffer {
  #buffer: Buffer
  #length = 0

  constructor (expectedBytes: number) {
    this.#buffer = Buffer.allocUnsafe(Math.max(1024, expectedBytes))
  }

  add (text: string): void {
    // Three bytes per UTF-16 unit covers any text (a surrogate pair is two units and four bytes).
    const room = text.length * 3
    if (this.#length + room > this.#buffer.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.#buffer.length * 2, this.#length + room))
      this.#buffer.copy(bigger, 0, 0, this.#length)
      this.#buffer = bigger
    }
    this.#length += this.#buffer.write(text, this.#length, 'utf8')
  }

  /** The commands written; the buffer is the caller's from here on (a socket holds it until sent). */
  get bytes (): Buffer {
    return this.#buffer.subarray(0, this.#length)
  }
}

const INCOMPLETE = Symbol('incomplete')
const CR = 13

/** A request that got no (complete) answer within its time. */
export class RespTimeout extends Error {
  constructor (ms: number) {
    super(`no answer within ${ms} ms`)
    this.name = 'RespTimeout'
  }
}

interface Request {
  remaining: number
  readonly replies: RespReply[]
  readonly resolve: (replies: RespReply[]) => void
  readonly reject: (error: Error) => void
  /** Its caller stopped waiting (the deadline passed): its replies are still read, and dropped. */
  abandoned: boolean
  timer: ReturnType<typeof setTimeout> | undefined
}

export interface RespConnectionOptions {
  readonly host: string
  readonly port: number
  readonly password?: string
}

/**
 * One connection that sends a whole pipeline of commands as a single write and reads their
 * replies straight from the socket's buffers: the profile store's batch reads and writes are
 * thousands of commands, and a general client's promise, queue entry and write per command cost
 * more than the commands themselves. Replies are matched to requests in order; a request its
 * caller gave up on (a deadline) still consumes its replies when they come, so later requests
 * read their own. A lost connection fails every request in flight; `connect` opens a new one.
 */
export class RespConnection {
  readonly #options: RespConnectionOptions
  #socket: Socket | undefined
  #queue: Request[] = []
  #buffer: Buffer = Buffer.alloc(0)
  #pos = 0

  constructor (options: RespConnectionOptions) {
    this.#options = options
  }

  get connected (): boolean { return this.#socket !== undefined }

  /** Opens the connection (and authenticates). Rejects with the socket's error, e.g. ECONNREFUSED. */
  async connect (timeoutMs: number): Promise<void> {
    if (this.#socket !== undefined) return
    const socket = connect({ host: this.#options.host, port: this.#options.port, noDelay: true })
    const timer = setTimeout(() => { socket.destroy(new Error(`could not connect within ${timeoutMs} ms`)) }, timeoutMs)
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => {
        socket.off('error', reject)
        resolve()
      })
      socket.once('error', reject)
    }).catch((error: unknown) => {
      socket.destroy()
      throw error
    }).finally(() => { clearTimeout(timer) })
    this.#socket = socket
    this.#buffer = Buffer.alloc(0)
    this.#pos = 0
    socket.on('data', (chunk: Buffer) => { this.#read(chunk) })
    const lost = (error?: Error): void => { this.#lost(socket, error ?? new Error('the connection was closed')) }
    socket.on('error', lost)
    socket.on('close', () => { lost() })
    if (this.#options.password !== undefined) {
      const [reply] = await this.request(command(['AUTH', this.#options.password]), 1, timeoutMs)
      if (reply instanceof RespError) {
        this.close()
        throw reply
      }
    }
  }

  /**
   * Sends `payload` (RESP commands) and resolves to its `replies` replies, in order; rejects with
   * RespTimeout when they are not all there within `timeoutMs`, or with the socket's error.
   */
  request (payload: string | Buffer, replies: number, timeoutMs: number): Promise<RespReply[]> {
    const socket = this.#socket
    if (socket === undefined) return Promise.reject(new Error('not connected'))
    return new Promise((resolve, reject) => {
      const request: Request = { remaining: replies, replies: [], resolve, reject, abandoned: false, timer: undefined }
      request.timer = setTimeout(() => {
        request.abandoned = true
        reject(new RespTimeout(timeoutMs))
      }, timeoutMs)
      this.#queue.push(request)
      socket.write(payload)
    })
  }

  close (): void {
    const socket = this.#socket
    if (socket !== undefined) this.#lost(socket, new Error('the connection was closed'))
    socket?.destroy()
  }

  #lost (socket: Socket, error: Error): void {
    if (this.#socket !== socket) return
    this.#socket = undefined
    const queue = this.#queue
    this.#queue = []
    for (const r of queue) {
      clearTimeout(r.timer)
      if (!r.abandoned) r.reject(error)
    }
  }

  #read (chunk: Buffer): void {
    if (this.#pos >= this.#buffer.length) {
      this.#buffer = chunk
    } else {
      this.#buffer = Buffer.concat([this.#buffer.subarray(this.#pos), chunk])
    }
    this.#pos = 0
    for (;;) {
      const start = this.#pos
      let reply: RespReply | typeof INCOMPLETE
      try {
        reply = this.#parse()
      } catch (error) {
        // Not RESP: nothing after this can be matched to a request.
        const socket = this.#socket
        if (socket !== undefined) this.#lost(socket, error as Error)
        socket?.destroy()
        return
      }
      if (reply === INCOMPLETE) {
        this.#pos = start
        return
      }
      this.#deliver(reply)
    }
  }

  #deliver (reply: RespReply): void {
    const request = this.#queue[0]
    if (request === undefined) return
    request.replies.push(reply)
    if (--request.remaining > 0) return
    this.#queue.shift()
    clearTimeout(request.timer)
    if (!request.abandoned) request.resolve(request.replies)
  }

  /** The integer on the line at the position, moving past its CRLF; INCOMPLETE when the line is not all there. */
  #line (): number | typeof INCOMPLETE {
    const b = this.#buffer
    let i = this.#pos
    let sign = 1
    if (b[i] === 45) { // '-'
      sign = -1
      i++
    }
    let n = 0
    for (; i < b.length; i++) {
      const c = b[i] as number
      if (c === CR) {
        if (i + 1 >= b.length) return INCOMPLETE
        this.#pos = i + 2
        return sign * n
      }
      n = n * 10 + (c - 48)
    }
    return INCOMPLETE
  }

  /** The text of the line at the position, moving past its CRLF. */
  #text (): string | typeof INCOMPLETE {
    const b = this.#buffer
    const end = b.indexOf(CR, this.#pos)
    if (end < 0 || end + 1 >= b.length) return INCOMPLETE
    const text = b.toString('utf8', this.#pos, end)
    this.#pos = end + 2
    return text
  }

  #parse (): RespReply | typeof INCOMPLETE {
    const b = this.#buffer
    if (this.#pos >= b.length) return INCOMPLETE
    const type = b[this.#pos++]
    switch (type) {
      case 36: { // '$' bulk string
        const length = this.#line()
        if (length === INCOMPLETE) return INCOMPLETE
        if (length < 0) return null
        const start = this.#pos
        if (start + length + 2 > b.length) return INCOMPLETE
        this.#pos = start + length + 2
        return b.toString('utf8', start, start + length)
      }
      case 42: { // '*' array
        const count = this.#line()
        if (count === INCOMPLETE) return INCOMPLETE
        if (count < 0) return null
        const items = new Array<RespReply>(count)
        for (let i = 0; i < count; i++) {
          const item = this.#parse()
          if (item === INCOMPLETE) return INCOMPLETE
          items[i] = item
        }
        return items
      }
      case 58: // ':' integer
        return this.#line()
      case 43: // '+' simple string
        return this.#text()
      case 45: { // '-' error
        const message = this.#text()
        return message === INCOMPLETE ? INCOMPLETE : new RespError(message)
      }
      default:
        throw new Error(`unexpected RESP type byte ${String(type)}`)
    }
  }
}
