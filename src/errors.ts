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
  SCORING_API_UNAVAILABLE: 'CHURNFLOW_SCORING_API_UNAVAILABLE',
  SCORING_API_FAILED: 'CHURNFLOW_SCORING_API_FAILED',
  KAFKA_PRODUCE_FAILED: 'CHURNFLOW_KAFKA_PRODUCE_FAILED',

  DASHBOARD_AUTH_REQUIRED: 'CHURNFLOW_DASHBOARD_AUTH_REQUIRED'
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
