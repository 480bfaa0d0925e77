import type { Server } from 'node:http'

/**
 * The URL a listening server answers on: the port the OS picked when 0 was asked for, an IPv6
 * host in brackets. Printed by every command that serves HTTP, so port 0 is usable.
 */
export function listeningUrl (server: Server, host: string, asked: number): string {
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : asked
  const shown = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host
  return `http://${shown}:${port}`
}
