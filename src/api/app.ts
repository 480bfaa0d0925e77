import { timingSafeEqual } from 'node:crypto'
import Fastify, { LogController, type FastifyError, type FastifyReply, type FastifyRequest } from 'fastify'
import { ApiErrorCodes, RequestError } from '../errors.ts'
import type { Logger } from '../logging/index.ts'
import { churnRoutes } from './churn-routes.ts'
import { fraudRoutes } from './fraud-routes.ts'
import { parseBody } from './json.ts'
import { apiMetrics, type ApiMetrics } from './metrics.ts'
import { serviceRoutes } from './service-routes.ts'
import { customerRoutes } from './customer-routes.ts'
import type { ApiOptions } from './types.ts'

type ErrorBody = { error: string, message: string, field?: string }

function fieldOf (error: FastifyError): string | undefined {
  const first = error.validation?.[0]
  if (first === undefined) return undefined
  const missing = (first.params as { missingProperty?: string }).missingProperty
  const path = first.instancePath.replace(/^\//, '').replaceAll('/', '.')
  const field = missing === undefined ? path : (path === '' ? missing : `${path}.${missing}`)
  return field === '' ? undefined : field.replace(/\.(\d+)(?=\.|$)/g, '[$1]')
}

/** The status and JSON body for an error: 400 naming the field for a schema failure, 500 for anything unforeseen. */
function answerFor (error: FastifyError | RequestError): { status: number, body: ErrorBody } {
  if ('validation' in error && error.validation !== undefined) {
    const field = fieldOf(error)
    return { status: 400, body: { error: ApiErrorCodes.INVALID_REQUEST, message: `${field ?? 'body'} ${error.validation[0]?.message ?? 'is invalid'}`, ...(field === undefined ? {} : { field }) } }
  }
  if (error instanceof RequestError) {
    return { status: error.statusCode, body: { error: error.error, message: error.message, ...(error.field === undefined ? {} : { field: error.field }) } }
  }
  const status = error.statusCode
  if (status !== undefined && status >= 400 && status < 500) {
    const code = status === 413 ? ApiErrorCodes.BODY_TOO_LARGE : status === 415 ? ApiErrorCodes.UNSUPPORTED_MEDIA_TYPE : ApiErrorCodes.BAD_REQUEST
    return { status, body: { error: code, message: error.message } }
  }
  return { status: 500, body: { error: ApiErrorCodes.INTERNAL_ERROR, message: 'the server failed; the log has the details' } }
}

/** 5xx logged at error with the stack, 4xx at info: a client's mistake is not the server's. */
function sendError (error: FastifyError | RequestError, request: FastifyRequest, reply: FastifyReply): void {
  const { status, body } = answerFor(error)
  if (status >= 500) request.log.error({ err: error, url: request.url }, 'request failed')
  else request.log.info({ status, url: request.url, error: body.error }, body.message)
  void reply.status(status).send(body)
}

/** The x-api-key check: every route but /health needs the key, compared in constant time. */
function apiKeyHook (key: string): (request: FastifyRequest) => Promise<void> {
  const expected = Buffer.from(key)
  return async request => {
    if (request.url === '/health') return
    const given = request.headers['x-api-key']
    const candidate = Buffer.from(typeof given === 'string' ? given : '')
    if (candidate.length !== expected.length || !timingSafeEqual(candidate, expected)) {
      throw new RequestError(401, ApiErrorCodes.UNAUTHORIZED, 'a valid x-api-key header is required')
    }
  }
}

// The instance type is Fastify's own, with pino's logger; inferring it keeps the two in step.
function createServer (log: Logger, bodyLimit: number, metrics: ApiMetrics) {
  const app = Fastify({
    loggerInstance: log,
    // A line per request would cost more than the scoring; errors are logged by the error handler.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit,
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } }
  })
  app.removeContentTypeParser(['application/json', 'text/plain'])
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, parseBody(body as string))
    } catch (error) {
      done(error as RequestError, undefined)
    }
  })
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unknown'
    metrics.requests.inc({ route, status: String(reply.statusCode) })
    metrics.latency.observe({ route }, reply.elapsedTime / 1000)
  })
  app.setErrorHandler(sendError)
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send({ error: ApiErrorCodes.NOT_FOUND, message: `no route ${request.method} ${request.url}` })
  })
  return app
}

/**
 * Builds the scoring API (the original system's Flask API, done properly), separate from
 * `listen` so tests use `inject()`: one plugin per concern (churn scoring, fraud scoring, the
 * service's health, metrics and model), with what it owns closed in `onClose`.
 */
export function buildApi (options: ApiOptions) {
  const { models, log } = options
  const maxBatch = options.maxBatch ?? 1000
  const metrics = apiMetrics(models)
  const app = createServer(log, options.bodyLimit ?? 1024 * 1024, metrics)
  if (options.apiKey !== undefined) app.addHook('onRequest', apiKeyHook(options.apiKey))
  if (options.ownsResources === true) {
    app.addHook('onClose', async () => {
      models.close()
      await options.profiles?.close?.()
    })
  }
  void app.register(churnRoutes, { models, metrics, profiles: options.profiles, maxBatch })
  void app.register(fraudRoutes, { fraud: options.fraud, maxBatch })
  const customers = options.customers
  if (customers !== undefined) void app.register(customerRoutes, { customers })
  void app.register(serviceRoutes, { models, metrics, profiles: options.profiles, fraud: options.fraud })
  return app
}

/** The scoring API's Fastify instance. */
export type ScoringApi = ReturnType<typeof buildApi>
