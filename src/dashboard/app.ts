import { timingSafeEqual, createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Fastify, { LogController, type FastifyReply, type FastifyRequest } from 'fastify'
import { ChurnflowError, ErrorCodes } from '../errors.ts'
import { validTable } from '../sql/index.ts'
import { DashboardData } from './data.ts'
import { TENURE_SEGMENTS } from '../profile/index.ts'
import { LiveHub } from './live.ts'
import type { Config } from '../config/index.ts'
import type { Logger } from '../logging/index.ts'
import { dashboardOptions, type DashboardOptions } from './options.ts'
import { listeningUrl } from '../util/listen.ts'

/** What the browser may load: this origin's own files, nothing inline, nothing from elsewhere. */
export const contentSecurityPolicy = [
  "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'", "font-src 'self'",
  "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'"
].join('; ')

const securityHeaders: Readonly<Record<string, string>> = {
  'content-security-policy': contentSecurityPolicy,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin'
}

interface StaticFile { readonly body: Buffer, readonly type: string }

/** The dashboard's files (no build step) and uPlot's, served from node_modules; read once, at build. */
function staticFiles (): Map<string, StaticFile> {
  const here = dirname(fileURLToPath(import.meta.url))
  const uplot = dirname(createRequire(import.meta.url).resolve('uplot/dist/uPlot.iife.min.js'))
  const file = (path: string, type: string): StaticFile => ({ body: readFileSync(path), type })
  return new Map([
    ['/', file(join(here, 'public', 'index.html'), 'text/html; charset=utf-8')],
    ['/app.js', file(join(here, 'public', 'app.js'), 'text/javascript; charset=utf-8')],
    ['/style.css', file(join(here, 'public', 'style.css'), 'text/css; charset=utf-8')],
    ['/vendor/uPlot.iife.min.js', file(join(uplot, 'uPlot.iife.min.js'), 'text/javascript; charset=utf-8')],
    ['/vendor/uPlot.min.css', file(join(uplot, 'uPlot.min.css'), 'text/css; charset=utf-8')]
  ])
}

const digest = (text: string): Buffer => createHash('sha256').update(text).digest()
const same = (a: string, b: string): boolean => timingSafeEqual(digest(a), digest(b))

/** The key a request carries: basic auth (user and password), `Authorization: Bearer`, or `x-api-key`. */
function presented (request: FastifyRequest): { user?: string, key: string } | undefined {
  const header = request.headers.authorization ?? ''
  if (header.startsWith('Basic ')) {
    const text = Buffer.from(header.slice(6), 'base64').toString('utf8')
    const colon = text.indexOf(':')
    return colon < 0 ? undefined : { user: text.slice(0, colon), key: text.slice(colon + 1) }
  }
  if (header.startsWith('Bearer ')) return { key: header.slice(7) }
  const apiKey = request.headers['x-api-key']
  return typeof apiKey === 'string' ? { key: apiKey } : undefined
}

function authorised (request: FastifyRequest, key: string, user: string): boolean {
  const p = presented(request)
  return p !== undefined && same(p.key, key) && (p.user === undefined || same(p.user, user))
}

/** True for an address only this machine can reach. */
export function isLoopback (host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, '$1')
  if (h === 'localhost') return true
  if (isIP(h) === 4) return h.startsWith('127.')
  return h === '::1'
}

/** Refuses to serve on a non-loopback address without a key: the dashboard shows customers' data. */
export function assertSafeBind (host: string, key: string | undefined): void {
  if (isLoopback(host) || (key !== undefined && key !== '')) return
  throw new ChurnflowError(ErrorCodes.DASHBOARD_AUTH_REQUIRED, `the dashboard would listen on ${host} without a key`, {
    details: ['set DASHBOARD_KEY (the browser asks for it as the basic-auth password), or listen on 127.0.0.1 (--dashboard-host)']
  })
}

function guard (app: DashboardApp, options: DashboardOptions): void {
  app.addHook('onRequest', async (request, reply) => {
    for (const [k, v] of Object.entries(securityHeaders)) void reply.header(k, v)
    // Nothing here changes data, so nothing but reads is answered.
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      return reply.code(405).header('allow', 'GET, HEAD').send({ error: 'the dashboard is read-only' })
    }
    if (options.key !== undefined && !authorised(request, options.key, options.user)) {
      return reply.code(401).header('www-authenticate', 'Basic realm="churnflow dashboard", charset="UTF-8"').send({ error: 'a key is required' })
    }
    return undefined
  })
}

const text = (v: unknown): string | undefined => typeof v === 'string' && v !== '' ? v : undefined

function routes (app: DashboardApp, data: DashboardData, hub: LiveHub): void {
  const files = staticFiles()
  const serve = (path: string) => async (_request: FastifyRequest, reply: FastifyReply) => {
    const f = files.get(path) as StaticFile
    return reply.type(f.type).header('cache-control', 'no-cache').send(f.body)
  }
  for (const path of files.keys()) app.get(path, serve(path))
  app.get('/api/overview', () => data.overview())
  app.get('/api/churn', async (request, reply) => {
    const q = request.query as Record<string, unknown>
    const band = text(q.band)
    const segment = text(q.segment)
    if (segment !== undefined && !TENURE_SEGMENTS.some(s => s.name === segment)) {
      return reply.code(400).send({ error: `unknown segment; the segments are ${TENURE_SEGMENTS.map(s => s.name).join(', ')}` })
    }
    const limit = Math.min(500, Math.max(1, Number(q.limit ?? 50) || 50))
    return data.churn({ limit, ...(band === undefined ? {} : { band }), ...(segment === undefined ? {} : { segment }) })
  })
  app.get('/api/customers/:id', async request => data.customer((request.params as { id: string }).id))
  app.get('/api/alerts', () => ({ alerts: data.alertFeed() }))
  app.get('/api/fraud', () => data.fraud())
  app.get('/api/model', () => data.modelView())
  app.get('/api/live', (request, reply) => {
    reply.hijack()
    for (const [k, v] of Object.entries(securityHeaders)) reply.raw.setHeader(k, v)
    hub.add(reply.raw)
    request.raw.on('close', () => { reply.raw.end() })
  })
}

function createApp (options: DashboardOptions) {
  return Fastify({ loggerInstance: options.log.child({ component: 'dashboard' }), logController: new LogController({ disableRequestLogging: true }) })
}

/** The dashboard's Fastify instance. */
export type DashboardApp = ReturnType<typeof createApp>

/**
 * The dashboard: a Fastify app serving its pages and their JSON, read-only, with live updates by
 * server-sent events. Built apart from `listen`; when ready it looks for the indexes its queries
 * need and starts reading Kafka, and its readers close with the app.
 */
export function buildDashboard (options: DashboardOptions): DashboardApp {
  // Table names are spliced into the queries: only plain identifiers get that far.
  for (const table of Object.values(options.tables)) validTable(table)
  const app = createApp(options)
  const data = new DashboardData(options)
  const hub = new LiveHub({ poll: () => data.livePoll(), intervalMs: options.liveIntervalMs, log: options.log, onIdle: () => { data.resetLive() } })
  data.onAlert = alert => { hub.broadcast({ event: 'alert', data: alert }) }
  guard(app, options)
  routes(app, data, hub)
  // Event streams never end by themselves: they are ended before the server waits for its connections.
  app.addHook('preClose', async () => { hub.close() })
  app.addHook('onClose', () => data.close())
  app.addHook('onReady', () => data.start())
  return app
}

/** Builds the dashboard and listens; refuses a non-loopback address without a key. Resolves to the app and its URL. */
export async function startDashboard (options: DashboardOptions, host: string, port: number): Promise<{ app: DashboardApp, url: string }> {
  assertSafeBind(host, options.key)
  const app = buildDashboard(options)
  try {
    await app.listen({ host, port })
  } catch (error) {
    await app.close()
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new ChurnflowError(ErrorCodes.PORT_IN_USE, `port ${port} on ${host} is in use`, { details: ['stop what holds it, or choose another with --dashboard-port / DASHBOARD_PORT (0 picks a free one)'] })
    }
    throw error
  }
  return { app, url: listeningUrl(app.server, host, port) }
}

/**
 * The dashboard as `churnflow up` (or any command) serves it beside its processor: built from the
 * configuration, reading these ops endpoints, on DASHBOARD_HOST:DASHBOARD_PORT.
 */
export async function serveDashboard (config: Config, log: Logger, opsUrls: readonly string[] = config.opsUrls): Promise<{ url: string, close: () => Promise<void> }> {
  const { app, url } = await startDashboard(dashboardOptions(config, log.child({ component: 'dashboard' }), { opsUrls }), config.dashboardHost, config.dashboardPort)
  return { url, close: () => app.close() }
}
