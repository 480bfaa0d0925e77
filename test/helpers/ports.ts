import { randomInt } from 'node:crypto'
import { createServer, type Server } from 'node:net'

// Linux gives 32768-60999 to outgoing connections: a port there that a test releases and listens on
// again later (a restarted server, a proxy brought back) can be held meanwhile by any client's
// socket (a CI run met "port 48692 is in use"). Ports handed out here lie below that range, and
// outside the test brokers' 21092-21994 and their controllers' 31092-32094 and local 19091-19094 / 29091-29094.
const LOWEST = 23_000
const HIGHEST = 28_999

/** Listens on `port` at 127.0.0.1; false when something holds it. */
export function tryListen (server: Server, port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      if (error.code === 'EADDRINUSE' || error.code === 'EACCES') resolve(false)
      else reject(error)
    }
    server.once('error', onError)
    server.listen(port, '127.0.0.1', () => {
      server.off('error', onError)
      resolve(true)
    })
  })
}

/**
 * Listens `server` on a port below Linux's ephemeral range, picked at random among the free
 * ones, and returns it. For a server a test stops and starts again on the same port.
 */
export async function listenLow (server: Server): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = randomInt(LOWEST, HIGHEST + 1)
    if (await tryListen(server, port)) return port
  }
  throw new Error(`no free port in ${LOWEST}-${HIGHEST} after 200 tries`)
}

/**
 * A port below Linux's ephemeral range that nothing listens on right now, for a child process
 * that listens on it itself (a private mariadbd, `churnflow up`'s API and ops endpoints). A test
 * whose own server listens should use port 0, or `listenLow` when it must listen again later.
 */
export async function freePort (): Promise<number> {
  const server = createServer()
  const port = await listenLow(server)
  await new Promise<void>(resolve => { server.close(() => { resolve() }) })
  return port
}
