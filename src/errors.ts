/**
 * Every error churnflow raises on purpose carries a stable code from this list.
 * A code is never reused for another meaning; add new ones at the end of their group.
 */
export const ErrorCodes = {
  USAGE: 'CHURNFLOW_USAGE',
  CONFIG_INVALID: 'CHURNFLOW_CONFIG_INVALID',
  ENV_FILE: 'CHURNFLOW_ENV_FILE',

  JAVA_MISSING: 'CHURNFLOW_JAVA_MISSING',
  JAVA_TOO_OLD: 'CHURNFLOW_JAVA_TOO_OLD',
  MAVEN_MISSING: 'CHURNFLOW_MAVEN_MISSING',
  KAFKA_PROVISION_FAILED: 'CHURNFLOW_KAFKA_PROVISION_FAILED',
  PORT_IN_USE: 'CHURNFLOW_PORT_IN_USE',
  BROKER_EXITED: 'CHURNFLOW_BROKER_EXITED',
  BROKER_START_TIMEOUT: 'CHURNFLOW_BROKER_START_TIMEOUT',
  BROKER_STOP_FAILED: 'CHURNFLOW_BROKER_STOP_FAILED',
  LOCAL_CLUSTER_MISMATCH: 'CHURNFLOW_LOCAL_CLUSTER_MISMATCH',

  KAFKA_UNREACHABLE: 'CHURNFLOW_KAFKA_UNREACHABLE',
  TOPIC_CREATE_FAILED: 'CHURNFLOW_TOPIC_CREATE_FAILED',

  MODEL_INVALID: 'CHURNFLOW_MODEL_INVALID',
  TRAINING_FAILED: 'CHURNFLOW_TRAINING_FAILED',

  DATABASE_UNAVAILABLE: 'CHURNFLOW_DATABASE_UNAVAILABLE',
  DATABASE_FAILED: 'CHURNFLOW_DATABASE_FAILED',
  PROFILE_STORE_UNAVAILABLE: 'CHURNFLOW_PROFILE_STORE_UNAVAILABLE',
  PROFILE_SNAPSHOT_INVALID: 'CHURNFLOW_PROFILE_SNAPSHOT_INVALID',
  ACCOUNT_STATE_INVALID: 'CHURNFLOW_ACCOUNT_STATE_INVALID',
  SCORING_API_UNAVAILABLE: 'CHURNFLOW_SCORING_API_UNAVAILABLE',
  SCORING_API_FAILED: 'CHURNFLOW_SCORING_API_FAILED',
  KAFKA_PRODUCE_FAILED: 'CHURNFLOW_KAFKA_PRODUCE_FAILED',
  PROFILE_SNAPSHOT_DEFECT: 'CHURNFLOW_PROFILE_SNAPSHOT_DEFECT',
  STOPPED_WHILE_WAITING: 'CHURNFLOW_STOPPED_WHILE_WAITING',
  PART_STOPPED: 'CHURNFLOW_PART_STOPPED',
  API_REQUEST_REFUSED: 'CHURNFLOW_API_REQUEST_REFUSED',

  STATE_RECORD_INVALID: 'CHURNFLOW_STATE_RECORD_INVALID',
  STATE_DIR_LOCKED: 'CHURNFLOW_STATE_DIR_LOCKED',
  STATE_RESTORE_FAILED: 'CHURNFLOW_STATE_RESTORE_FAILED',
  STATE_NOT_COPARTITIONED: 'CHURNFLOW_STATE_NOT_COPARTITIONED'
} as const

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes]

export interface ChurnflowErrorOptions {
  cause?: unknown
  /** True when the same operation may succeed if tried again later (a dependency was down). */
  retriable?: boolean
  /** Extra lines shown to a person under the message (a log tail, one line per config problem). */
  details?: readonly string[]
  /** Process exit code when this error ends a command. */
  exitCode?: number
}

/** The base of every error churnflow raises on purpose; the CLI prints these without a stack trace. */
export class ChurnflowError extends Error {
  readonly code: ErrorCode
  readonly retriable: boolean
  readonly details: readonly string[]
  readonly exitCode: number

  constructor (code: ErrorCode, message: string, options: ChurnflowErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'ChurnflowError'
    this.code = code
    this.retriable = options.retriable ?? false
    this.details = options.details ?? []
    this.exitCode = options.exitCode ?? 1
  }
}

export function isChurnflowError (error: unknown): error is ChurnflowError {
  return error instanceof ChurnflowError
}

/**
 * A dependency was down and the caller stopped (shutdown) while waiting for it: the call was
 * abandoned, not failed. Raised out of the retry loop so the batch in hand is left uncommitted.
 */
export class StoppedWhileWaiting extends ChurnflowError {
  constructor (dependency: string) {
    super(ErrorCodes.STOPPED_WHILE_WAITING, `stopped while waiting for ${dependency}`)
    this.name = 'StoppedWhileWaiting'
  }
}

/**
 * Why a profile snapshot cannot be read. The reader that knows the file's path turns it into
 * PROFILE_SNAPSHOT_INVALID, which names the file and what a person can do about it.
 */
export class SnapshotDefect extends ChurnflowError {
  constructor (what: string) {
    super(ErrorCodes.PROFILE_SNAPSHOT_DEFECT, what)
    this.name = 'SnapshotDefect'
  }
}

/** A part of `churnflow up` (processor, producer, status line) stopped on its own; everything else is stopped and `up` exits 1. */
export class PartStopped extends ChurnflowError {
  constructor (what: string, cause: unknown) {
    super(ErrorCodes.PART_STOPPED, `${what} stopped: ${(cause as Error).message}`, { cause })
    this.name = 'PartStopped'
  }
}

/**
 * The `error` field of the scoring API's JSON error bodies. These strings are the API's contract
 * with its clients: stable, and never reused for another meaning.
 */
export const ApiErrorCodes = {
  INVALID_JSON: 'invalid_json',
  INVALID_REQUEST: 'invalid_request',
  UNAUTHORIZED: 'unauthorized',
  UNKNOWN_EVENT_TYPE: 'unknown_event_type',
  PROFILE_STORE_UNAVAILABLE: 'profile_store_unavailable',
  NO_FRAUD_MODEL: 'no_fraud_model',
  BODY_TOO_LARGE: 'body_too_large',
  UNSUPPORTED_MEDIA_TYPE: 'unsupported_media_type',
  BAD_REQUEST: 'bad_request',
  NOT_FOUND: 'not_found',
  INTERNAL_ERROR: 'internal_error'
} as const

export type ApiErrorCode = (typeof ApiErrorCodes)[keyof typeof ApiErrorCodes]

/** A request the scoring API refuses: its HTTP status, its `error` code and the field it is about. */
export class RequestError extends ChurnflowError {
  readonly statusCode: number
  readonly error: ApiErrorCode
  readonly field: string | undefined

  constructor (statusCode: number, error: ApiErrorCode, message: string, field?: string) {
    super(ErrorCodes.API_REQUEST_REFUSED, message, { retriable: statusCode === 503 })
    this.name = 'RequestError'
    this.statusCode = statusCode
    this.error = error
    this.field = field
  }
}
