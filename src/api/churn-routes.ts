import { Type } from '@sinclair/typebox'
import type { ChurnScore, ModelHolder } from '../churn/index.ts'
import { ApiErrorCodes, RequestError } from '../errors.ts'
import { customerEventTypes, parseEventTime, userEventTypes } from '../events/index.ts'
import { applyEvent, emptyProfile, profileEventOf, profileFields, type CustomerProfile } from '../profile/index.ts'
import type { ApiMetrics } from './metrics.ts'
import { ChurnEvent, ChurnResponse, ErrorResponse, type ChurnEventBody } from './schemas.ts'
import type { ApiPlugin, ProfileReader } from './types.ts'

export interface ChurnRoutesOptions {
  readonly models: ModelHolder
  readonly metrics: ApiMetrics
  readonly profiles: ProfileReader | undefined
  readonly maxBatch: number
}

type ChurnAnswer = ChurnScore & { user_id: string | number, event_type: string, profile: string }

const knownTypes = new Set<string>([...userEventTypes, ...customerEventTypes])

/** Checks what the schema cannot: an id, a real date-time, a type churnflow scores. */
function checkEvent (body: ChurnEventBody, field: (name: string) => string): string | number {
  const id = body.user_id ?? body.customer_id
  if (id === undefined) throw new RequestError(400, ApiErrorCodes.INVALID_REQUEST, `${field('user_id')} is required (or customer_id)`, field('user_id'))
  if (parseEventTime(body.timestamp) === undefined) {
    throw new RequestError(400, ApiErrorCodes.INVALID_REQUEST, `${field('timestamp')} must be an ISO 8601 date-time such as 2024-01-15T10:30:00Z`, field('timestamp'))
  }
  if (!knownTypes.has(body.event_type)) {
    throw new RequestError(422, ApiErrorCodes.UNKNOWN_EVENT_TYPE, `${field('event_type')} "${body.event_type}" is not one churnflow scores: ${[...knownTypes].join(', ')}`, field('event_type'))
  }
  return id
}

/** The profile the request carries, as a full profile (fields it leaves out are 0). */
function profileFromRequest (sent: Record<string, number>): CustomerProfile {
  const profile = emptyProfile()
  for (const name of profileFields) {
    const v = sent[name]
    if (v !== undefined) profile[name] = v
  }
  return profile
}

async function storedProfile (profiles: ProfileReader, id: string): Promise<CustomerProfile | undefined> {
  try {
    return await profiles.get(id)
  } catch (error) {
    throw new RequestError(503, ApiErrorCodes.PROFILE_STORE_UNAVAILABLE, `the profile store (${profiles.name}) is not answering: ${(error as Error).message}`)
  }
}

/**
 * Churn scoring: seed-compatible POST /predict-churn and its batch form. An event is scored on the
 * profile the request carries (a caller that keeps profiles, like the processor), else the
 * profile store's, else on the event alone.
 */
export const churnRoutes: ApiPlugin<ChurnRoutesOptions> = async (app, options) => {
  const { models, metrics } = options

  async function scoreEvent (body: ChurnEventBody, field: (name: string) => string): Promise<ChurnAnswer> {
    const id = checkEvent(body, field)
    const event = profileEventOf(body)
    if (event === undefined) throw new RequestError(400, ApiErrorCodes.INVALID_REQUEST, `${field('timestamp')} is invalid`, field('timestamp'))
    const profile = body.profile !== undefined
      ? profileFromRequest(body.profile)
      : options.profiles === undefined ? undefined : await storedProfile(options.profiles, String(id))
    const from = body.profile !== undefined ? 'request' : profile === undefined ? 'event alone' : 'profile'
    const p = profile === undefined ? emptyProfile() : { ...profile }
    applyEvent(p, event)
    const result = models.current.score(p, event.time)
    metrics.scores.observe(result.churn_score)
    return { ...result, user_id: id, event_type: body.event_type, profile: from }
  }

  app.post('/predict-churn', {
    schema: { body: ChurnEvent, response: { 200: ChurnResponse, '4xx': ErrorResponse } }
  }, async request => scoreEvent(request.body as ChurnEventBody, name => name))

  app.post('/predict-churn/batch', {
    schema: {
      body: Type.Object({ events: Type.Array(ChurnEvent, { minItems: 1, maxItems: options.maxBatch }) }),
      response: { 200: Type.Object({ model_version: Type.String(), predictions: Type.Array(ChurnResponse) }), '4xx': ErrorResponse }
    }
  }, async request => {
    const { events } = request.body as { events: ChurnEventBody[] }
    const version = models.current.version
    const predictions: ChurnAnswer[] = []
    for (let i = 0; i < events.length; i++) predictions.push(await scoreEvent(events[i] as ChurnEventBody, name => `events[${i}].${name}`))
    return { model_version: version, predictions }
  })
}
