import { timingSafeEqual } from 'node:crypto'
import { Type, type Static } from '@sinclair/typebox'
import Fastify, { LogController, type FastifyError } from 'fastify'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import secureJson from 'secure-json-parse'
import type { ChurnScore } from '../churn/index.ts'
import { customerEventTypes, parseEventTime, userEventTypes } from '../events/index.ts'
import { emptyAccount, factsOf, type FraudScorer } from '../fraud/index.ts'
import type { Logger } from '../logging/index.ts'
import { applyEvent, emptyProfile, profileEventOf, profileFields, type CustomerProfile } from '../profile/index.ts'
import type { ModelHolder } from '../churn/index.ts'

/** Reads a customer's profile, when the API is given a profile store. */
export interface ProfileReader {
  readonly name: string
  get (customerId: string): Promise<CustomerProfile | undefined>
  ping (): Promise<void>
}

export interface ApiOptions {
  readonly models: ModelHolder
  readonly log: Logger
  readonly profiles?: ProfileReader
  /** The fraud model behind POST /predict; the route answers 503 without one. */
  readonly fraud?: { readonly current: FraudScorer }
  /** When set, every route but /health needs it in the x-api-key header. */
  readonly apiKey?: string
  /** Largest body accepted, in bytes (default 1 MiB). */
  readonly bodyLimit?: number
  /** Most events in one batch request. */
  readonly maxBatch?: number
}

/** Events are shallow; anything deeper is not an event (and MySQL's JSON type stops at 100). */
const MAX_DEPTH = 32

/** The deepest nesting of objects and arrays in JSON text, ignoring brackets inside strings. */
function nestingDepth (text: string): number {
  let depth = 0
  let max = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 92) i++ // a backslash escapes the next character
      else if (c === 34) inString = false
    } else if (c === 34) {
      inString = true
    } else if (c === 123 || c === 91) {
      if (++depth > max) max = depth
    } else if (c === 125 || c === 93) {
      depth--
    }
  }
  return max
}

const knownTypes = new Set<string>([...userEventTypes, ...customerEventTypes])
const Id = Type.Union([Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }), Type.String({ minLength: 1, maxLength: 50 })])
const Details = Type.Union([Type.Object({}, { additionalProperties: true }), Type.Null()])

/** seed 000's request body; customer-events' customer_id and data are taken too. */
const ChurnEvent = Type.Object({
  user_id: Type.Optional(Id),
  customer_id: Type.Optional(Type.String({ minLength: 1, maxLength: 50 })),
  event_type: Type.String({ minLength: 1, maxLength: 64 }),
  timestamp: Type.String({ minLength: 10, maxLength: 40 }),
  metadata: Type.Optional(Details),
  data: Type.Optional(Details),
  /** The customer's profile before this event, from a caller that keeps profiles (the processor); used instead of the store's. */
  profile: Type.Optional(Type.Record(Type.String(), Type.Number(), { maxProperties: 200 }))
})
type ChurnEventBody = Static<typeof ChurnEvent>

const Reason = Type.Object({ feature: Type.String(), value: Type.Number(), impact: Type.Number() })
const ChurnResponse = Type.Object({
  churn_score: Type.Number(),
  risk_band: Type.String(),
  model_version: Type.String(),
  reasons: Type.Array(Reason),
  user_id: Id,
  event_type: Type.String(),
  profile: Type.String()
})
const Text = Type.String({ maxLength: 100 })
/** A payment transaction (seed 004): id, account, amount and time are needed; the rest sharpens the score. */
const TransactionBody = Type.Object({
  transaction_id: Type.String({ minLength: 1, maxLength: 100 }),
  account_id: Type.String({ minLength: 1, maxLength: 100 }),
  amount: Type.Number({ exclusiveMinimum: 0, maximum: 1e9 }),
  timestamp: Type.String({ minLength: 10, maxLength: 40 }),
  currency: Type.Optional(Text),
  card_id: Type.Optional(Text),
  merchant_id: Type.Optional(Text),
  merchant_category: Type.Optional(Text),
  channel: Type.Optional(Text),
  country: Type.Optional(Text)
})
type TransactionBodyType = Static<typeof TransactionBody>
const FraudResponse = Type.Object({
  transaction_id: Type.String(),
  fraud_score: Type.Number(),
  prediction: Type.String(),
  model_version: Type.String(),
  reasons: Type.Array(Reason)
})
const ErrorResponse = Type.Object({ error: Type.String(), message: Type.String(), field: Type.Optional(Type.String()) })

/** A client error with the field it is about. */
class RequestError extends Error {
  readonly statusCode: number
  readonly code: string
  readonly field: string | undefined
  constructor (statusCode: number, code: string, message: string, field?: string) {
    super(message)
    this.statusCode = statusCode
    this.code = code
    this.field = field
  }
}

function fieldOf (error: FastifyError): string | undefined {
  const first = error.validation?.[0]
  if (first === undefined) return undefined
  const missing = (first.params as { missingProperty?: string }).missingProperty
  const path = first.instancePath.replace(/^\//, '').replaceAll('/', '.')
  const field = missing === undefined ? path : (path === '' ? missing : `${path}.${missing}`)
  return field === '' ? undefined : field.replace(/\.(\d+)(?=\.|$)/g, '[$1]')
}

/**
 * Builds the scoring API (the seeds' Flask API, done properly): POST /predict-churn and its batch
 * form, GET /health, /metrics and /model. Separate from `listen`, so tests use `inject()`.
 */
// The instance type is Fastify's own, with pino's logger; inferring it keeps the two in step.
export function buildApi (options: ApiOptions) {
  const { models, log } = options
  const maxBatch = options.maxBatch ?? 1000
  const app = Fastify({
    loggerInstance: log,
    // A line per request would cost more than the scoring; errors are logged by the error handler.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } }
  })

  // Parse JSON ourselves: any body that is not JSON, nests too deep, or smuggles __proto__ is a 400.
  app.removeContentTypeParser(['application/json', 'text/plain'])
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = body as string
    if (nestingDepth(text) > MAX_DEPTH) {
      done(new RequestError(400, 'invalid_json', `the JSON nests deeper than ${MAX_DEPTH} levels`), undefined)
      return
    }
    try {
      done(null, secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' }))
    } catch (error) {
      done(new RequestError(400, 'invalid_json', `the body is not valid JSON: ${(error as Error).message}`), undefined)
    }
  })

  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'churnflow_api_' })
  const requests = new Counter({ name: 'churnflow_api_requests_total', help: 'Requests by route and status', labelNames: ['route', 'status'] as const, registers: [registry] })
  const latency = new Histogram({
    name: 'churnflow_api_request_duration_seconds',
    help: 'Request latency by route',
    labelNames: ['route'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [registry]
  })
  const scores = new Histogram({ name: 'churnflow_churn_score', help: 'Distribution of churn scores served', buckets: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1], registers: [registry] })
  const modelInfo = new Gauge({ name: 'churnflow_model_info', help: 'The model version serving (value 1)', labelNames: ['version'] as const, registers: [registry] })
  new Gauge({ name: 'churnflow_model_reloads_total', help: 'Models reloaded since start', registers: [registry], collect () { this.set(models.reloads) } })

  const apiKey = options.apiKey === undefined ? undefined : Buffer.from(options.apiKey)
  app.addHook('onRequest', async request => {
    if (apiKey === undefined || request.url === '/health') return
    const given = request.headers['x-api-key']
    const candidate = Buffer.from(typeof given === 'string' ? given : '')
    if (candidate.length !== apiKey.length || !timingSafeEqual(candidate, apiKey)) {
      throw new RequestError(401, 'unauthorized', 'a valid x-api-key header is required')
    }
  })
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unknown'
    requests.inc({ route, status: String(reply.statusCode) })
    latency.observe({ route }, reply.elapsedTime / 1000)
  })

  app.setErrorHandler((error: FastifyError | RequestError, request, reply) => {
    let status: number
    let body: { error: string, message: string, field?: string }
    if ('validation' in error && error.validation !== undefined) {
      status = 400
      const field = fieldOf(error)
      body = { error: 'invalid_request', message: `${field ?? 'body'} ${error.validation[0]?.message ?? 'is invalid'}`, ...(field === undefined ? {} : { field }) }
    } else if (error instanceof RequestError) {
      status = error.statusCode
      body = { error: error.code, message: error.message, ...(error.field === undefined ? {} : { field: error.field }) }
    } else if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
      status = error.statusCode
      body = { error: status === 413 ? 'body_too_large' : status === 415 ? 'unsupported_media_type' : 'bad_request', message: error.message }
    } else {
      status = 500
      body = { error: 'internal_error', message: 'the server failed; the log has the details' }
    }
    if (status >= 500) request.log.error({ err: error, url: request.url }, 'request failed')
    else request.log.info({ status, url: request.url, error: body.error }, body.message)
    void reply.status(status).send(body)
  })
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send({ error: 'not_found', message: `no route ${request.method} ${request.url}` })
  })

  /** Validates what the schema cannot, reads the profile, applies the event and scores it. */
  async function scoreEvent (body: ChurnEventBody, field: (name: string) => string): Promise<ChurnScore & { user_id: string | number, event_type: string, profile: string }> {
    const id = body.user_id ?? body.customer_id
    if (id === undefined) throw new RequestError(400, 'invalid_request', `${field('user_id')} is required (or customer_id)`, field('user_id'))
    if (parseEventTime(body.timestamp) === undefined) {
      throw new RequestError(400, 'invalid_request', `${field('timestamp')} must be an ISO 8601 date-time such as 2024-01-15T10:30:00Z`, field('timestamp'))
    }
    if (!knownTypes.has(body.event_type)) {
      throw new RequestError(422, 'unknown_event_type', `${field('event_type')} "${body.event_type}" is not one churnflow scores: ${[...knownTypes].join(', ')}`, field('event_type'))
    }
    const event = profileEventOf(body)
    if (event === undefined) throw new RequestError(400, 'invalid_request', `${field('timestamp')} is invalid`, field('timestamp'))
    let profile: CustomerProfile | undefined
    if (body.profile !== undefined) {
      profile = emptyProfile()
      for (const field of profileFields) {
        const v = body.profile[field]
        if (v !== undefined) profile[field] = v
      }
    } else if (options.profiles !== undefined) {
      try {
        profile = await options.profiles.get(String(id))
      } catch (error) {
        throw new RequestError(503, 'profile_store_unavailable', `the profile store (${options.profiles.name}) is not answering: ${(error as Error).message}`)
      }
    }
    const from = body.profile !== undefined ? 'request' : profile === undefined ? 'event alone' : 'profile'
    const p = profile === undefined ? emptyProfile() : { ...profile }
    applyEvent(p, event)
    const result = models.current.score(p, event.time)
    scores.observe(result.churn_score)
    return { ...result, user_id: id, event_type: body.event_type, profile: from }
  }

  app.post('/predict-churn', {
    schema: { body: ChurnEvent, response: { 200: ChurnResponse, '4xx': ErrorResponse } }
  }, async request => scoreEvent(request.body as ChurnEventBody, name => name))

  app.post('/predict-churn/batch', {
    schema: {
      body: Type.Object({ events: Type.Array(ChurnEvent, { minItems: 1, maxItems: maxBatch }) }),
      response: { 200: Type.Object({ model_version: Type.String(), predictions: Type.Array(ChurnResponse) }), '4xx': ErrorResponse }
    }
  }, async request => {
    const { events } = request.body as { events: ChurnEventBody[] }
    const version = models.current.version
    const predictions = []
    for (let i = 0; i < events.length; i++) predictions.push(await scoreEvent(events[i] as ChurnEventBody, name => `events[${i}].${name}`))
    return { model_version: version, predictions }
  })

  app.post('/predict', {
    schema: { body: TransactionBody, response: { 200: FraudResponse, '4xx': ErrorResponse } }
  }, async request => {
    const tx = request.body as TransactionBodyType
    const fraud = options.fraud?.current
    if (fraud === undefined) throw new RequestError(503, 'no_fraud_model', 'this API runs without a fraud model')
    const facts = factsOf({ timestamp: tx.timestamp, amount: tx.amount, country: tx.country ?? '', merchant_category: tx.merchant_category ?? '', channel: tx.channel ?? '' })
    if (facts === undefined) throw new RequestError(400, 'invalid_request', 'timestamp must be an ISO 8601 date-time such as 2024-01-15T10:30:00Z', 'timestamp')
    return { transaction_id: tx.transaction_id, ...fraud.score(emptyAccount(), facts) }
  })

  app.get('/health', async (_request, reply) => {
    let store = 'none'
    let healthy = true
    if (options.profiles !== undefined) {
      try {
        await options.profiles.ping()
        store = `${options.profiles.name}: up`
      } catch (error) {
        store = `${options.profiles.name}: down (${(error as Error).message})`
        healthy = false
      }
    }
    void reply.status(healthy ? 200 : 503)
    return { status: healthy ? 'ok' : 'degraded', model_loaded: true, model_version: models.current.version, fraud_model_version: options.fraud?.current.artifact.model_version ?? null, profile_store: store }
  })

  app.get('/metrics', async (_request, reply) => {
    modelInfo.reset()
    modelInfo.set({ version: models.current.version }, 1)
    void reply.header('content-type', registry.contentType)
    return registry.metrics()
  })

  app.get('/model', async () => {
    const a = models.current.artifact
    return {
      model_version: a.model_version,
      created_at: a.created_at,
      kind: a.kind,
      horizon_days: a.horizon_days,
      qualifying: a.qualifying,
      features: a.features,
      bands: a.bands,
      training: a.training,
      metrics: { test: { model: strip(a.metrics.test.model), baseline: strip(a.metrics.test.baseline), ...(a.metrics.test.oracle === undefined ? {} : { oracle: strip(a.metrics.test.oracle) }) }, importance: a.metrics.importance }
    }
  })

  return app
}

const strip = (m: { roc_auc: number, pr_auc: number, log_loss: number }): { roc_auc: number, pr_auc: number, log_loss: number } =>
  ({ roc_auc: m.roc_auc, pr_auc: m.pr_auc, log_loss: m.log_loss })
