import { Type } from '@sinclair/typebox'
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler'
import secureJson from 'secure-json-parse'
import {
  checkCustomerEvent, checkUserEvent, customerEventDataSchemas, customerEventTypes, parseEventTime, Streams, userEventTypes,
  type CustomerEventType, type EventStream
} from '../events/index.ts'
import { profileEventOf, type ProfileEvent } from '../profile/index.ts'
import type { SourceRecord } from '../stream/index.ts'

/** Why a record went to the dead-letter topic; the value of its `churnflow-error-code` header. */
export const PoisonCodes = {
  EMPTY: 'empty_record',
  NOT_JSON: 'invalid_json',
  INVALID: 'invalid_event',
  UNKNOWN_TYPE: 'unknown_event_type',
  BAD_TIMESTAMP: 'invalid_timestamp',
  REJECTED_BY_SCORER: 'rejected_by_scoring_api'
} as const
export type PoisonCode = (typeof PoisonCodes)[keyof typeof PoisonCodes]

export type { SourceRecord }

/** A valid event, ready for its profile and the scorer. */
export interface DecodedEvent {
  readonly record: SourceRecord
  readonly stream: EventStream
  /** user_id (user-events) or customer_id (customer-events), as text: the profile's key. */
  readonly customerId: string
  /** The id as the event spelled it (seed 000's user_id may be a number). */
  readonly rawId: string | number
  readonly eventType: string
  readonly timestamp: string
  readonly time: number
  /** metadata (user-events) or data (customer-events); null when absent. */
  readonly details: Record<string, unknown> | null
  readonly profileEvent: ProfileEvent
}

export interface Poison {
  readonly record: SourceRecord
  readonly code: PoisonCode
  readonly message: string
}

export type Decoded = { readonly ok: true, readonly event: DecodedEvent } | { readonly ok: false, readonly poison: Poison }

/** A customer event's data may leave fields out (other producers send fewer), but a field it has must have its type. */
const checkPartialData: { readonly [K in CustomerEventType]: TypeCheck<ReturnType<typeof Type.Partial>> } =
  Object.fromEntries(customerEventTypes.map(t => [t, TypeCompiler.Compile(Type.Partial(customerEventDataSchemas[t]))])) as never

const userTypes = new Set<string>(userEventTypes)
const customerTypes = new Set<string>(customerEventTypes)

function firstError (check: TypeCheck<never> | TypeCheck<ReturnType<typeof Type.Partial>>, value: unknown, prefix = ''): string {
  const e = check.Errors(value).First()
  if (e === undefined) return 'is invalid'
  const path = e.path === '' ? 'the event' : `${prefix}${e.path.slice(1).replaceAll('/', '.')}`
  return `${path}: ${e.message}`
}

const poison = (record: SourceRecord, code: PoisonCode, message: string): { readonly ok: false, readonly poison: Poison } => ({ ok: false, poison: { record, code, message } })

/**
 * The first step of every decoder: the record's value as a JSON object, parsed safely (no
 * prototype pollution), or poison for an empty record, text that is not JSON, or JSON that is not
 * an object.
 */
export function parseJsonObject (record: SourceRecord): { readonly ok: true, readonly fields: Record<string, unknown> } | { readonly ok: false, readonly poison: Poison } {
  const value = record.value
  if (value === undefined || value.length === 0) return poison(record, PoisonCodes.EMPTY, 'the record has no value')
  let body: unknown
  try {
    body = secureJson.parse(value.toString('utf8'), undefined, { protoAction: 'remove', constructorAction: 'remove' })
  } catch (error) {
    return poison(record, PoisonCodes.NOT_JSON, `the value is not JSON: ${(error as Error).message}`)
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return poison(record, PoisonCodes.INVALID, 'the value is not a JSON object')
  return { ok: true, fields: body as Record<string, unknown> }
}

/**
 * Decodes and validates one record of a stream. Never throws: anything that is not a valid event
 * comes back as poison with a code and a message a person can act on.
 */
export function decodeRecord (record: SourceRecord, stream: EventStream): Decoded {
  const parsed = parseJsonObject(record)
  if (!parsed.ok) return parsed
  const body = parsed.fields
  const fields = body
  const type = fields.event_type
  const known = stream === Streams.USER_EVENTS ? userTypes : customerTypes
  if (typeof type === 'string' && !known.has(type)) {
    return poison(record, PoisonCodes.UNKNOWN_TYPE, `event_type "${type.slice(0, 64)}" is not a ${stream} type (${[...known].join(', ')})`)
  }
  if (stream === Streams.USER_EVENTS) {
    if (!checkUserEvent.Check(body)) return poison(record, PoisonCodes.INVALID, firstError(checkUserEvent as never, body))
  } else {
    if (!checkCustomerEvent.Check(body)) return poison(record, PoisonCodes.INVALID, firstError(checkCustomerEvent as never, body))
    const check = checkPartialData[fields.event_type as CustomerEventType]
    if (!check.Check(fields.data)) return poison(record, PoisonCodes.INVALID, firstError(check, fields.data, 'data.'))
  }
  const timestamp = fields.timestamp as string
  const time = parseEventTime(timestamp)
  if (time === undefined) return poison(record, PoisonCodes.BAD_TIMESTAMP, `timestamp "${timestamp}" is not an ISO 8601 date-time such as 2024-01-15T10:30:00Z`)
  const profileEvent = profileEventOf(fields as { event_type: string, timestamp: string }, time)
  if (profileEvent === undefined) return poison(record, PoisonCodes.BAD_TIMESTAMP, `timestamp "${timestamp}" is invalid`)
  const rawId = (stream === Streams.USER_EVENTS ? fields.user_id : fields.customer_id) as string | number
  const details = (stream === Streams.USER_EVENTS ? fields.metadata : fields.data) as Record<string, unknown> | null | undefined
  return {
    ok: true,
    event: { record, stream, customerId: String(rawId), rawId, eventType: type as string, timestamp, time, details: details ?? null, profileEvent }
  }
}
