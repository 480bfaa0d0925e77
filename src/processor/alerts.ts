import type { AlertState } from '../profile/index.ts'

/** the Kafka event system's immediate alerts. */
export const criticalEventTypes = ['payment_failed', 'support_ticket_created', 'subscription_cancelled', 'refund_requested'] as const

export const AlertKinds = { CRITICAL_EVENT: 'critical_event', HIGH_RISK: 'high_risk' } as const
export type AlertKind = (typeof AlertKinds)[keyof typeof AlertKinds]

export interface AlertPolicy {
  /** A score at or above this enters the high-risk state (and alerts). */
  readonly enter: number
  /** A score below this leaves it; between the two the state holds, so a hovering score does not flap. */
  readonly leave: number
  /** At most one alert per customer per this many ms of event time; 0 = no limit. */
  readonly cooldownMs: number
  readonly critical: ReadonlySet<string>
}

export function alertPolicy (options: { enter: number, hysteresis: number, cooldownHours: number, critical?: readonly string[] }): AlertPolicy {
  return {
    enter: options.enter,
    leave: Math.max(0, options.enter - options.hysteresis),
    cooldownMs: options.cooldownHours * 3_600_000,
    critical: new Set(options.critical ?? criticalEventTypes)
  }
}

export interface AlertDecision {
  readonly state: AlertState
  /** The alert to send, if any. */
  readonly alert: AlertKind | undefined
}

/**
 * Decides, for one scored event in event order, whether it alerts, and the customer's next alert
 * state. Pure, so a replay of the same events decides the same.
 */
export function decideAlert (policy: AlertPolicy, state: AlertState, eventType: string, score: number | undefined, time: number): AlertDecision {
  let high = state.high
  let crossed = false
  if (score !== undefined) {
    if (!high && score >= policy.enter) {
      high = true
      crossed = true
    } else if (high && score < policy.leave) {
      high = false
    }
  }
  const wanted: AlertKind | undefined = policy.critical.has(eventType) ? AlertKinds.CRITICAL_EVENT : crossed ? AlertKinds.HIGH_RISK : undefined
  const cooled = state.lastAt === 0 || policy.cooldownMs === 0 || time - state.lastAt >= policy.cooldownMs
  if (wanted === undefined || !cooled) return { state: { high, lastAt: state.lastAt }, alert: undefined }
  return { state: { high, lastAt: time }, alert: wanted }
}
