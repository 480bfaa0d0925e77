import type { ChurnScore } from '../churn/index.ts'
import { isoUtc, Streams, type EventStream } from '../events/index.ts'
import { applyEvent, emptyProfile, RISK_REASONS, RiskTriggers, type AlertState, type CurrentRisk, type CustomerProfile, type ProfileRecord, type ProfileStore, type RiskTrigger, type SilenceState } from '../profile/index.ts'
import type { PredictionRow, PredictionStore } from '../sql/index.ts'
import { decideAlert, type AlertKind, type AlertPolicy } from './alerts.ts'
import { decodeRecord, PoisonCodes, type DecodedEvent, type Poison, type SourceRecord } from './decode.ts'
import { deadLetterMessage, parsePartitionKey, partitionKey, type Dependency, type OutMessage, type OutputSink } from '../stream/index.ts'
import type { RemoteRequest, Scorer } from './scoring.ts'
import { nextDue, silenceDays, silenceTopic, type DueIndex, type SilencePolicy } from './silence.ts'

/** The event_type of a silence step's prediction: a re-score with no event. */
export const INACTIVITY_CHECK = 'inactivity_check'

/** Everything a batch needs, passed in, so the handler runs in a unit test with no broker. */
export interface BatchContext {
  readonly profiles: ProfileStore
  readonly predictions: PredictionStore
  readonly output: OutputSink
  readonly scorer: Scorer
  readonly alerts: AlertPolicy
  readonly topics: {
    readonly predictions: string
    readonly alerts: string
    deadLetter (source: string): string
    streamOf (topic: string): EventStream
  }
  /** customer-events types that are scored (the Kafka event system's significant events); every user-event is. */
  readonly scoredCustomerTypes: ReadonlySet<string>
  readonly dependencies: {
    readonly kafka: Dependency
    readonly database: Dependency
    readonly profiles: Dependency
    readonly scoring: Dependency | undefined
  }
  readonly signal: AbortSignal
  readonly now?: () => number
  /**
   * Silence sweeps, when on (SILENCE_STEPS, and a model scoring in process): the policy, and each
   * held partition's due index (undefined for a partition whose state this process does not keep).
   */
  readonly silence?: {
    readonly policy: SilencePolicy
    index (partition: number): DueIndex | undefined
    /** The partitions with an index, for the idle sweep. */
    partitions (): Iterable<number>
  }
}

/** What became of one valid event. */
export interface EventOutcome {
  readonly event: DecodedEvent
  /** The score, when the event is one that is scored. */
  score: ChurnScore | undefined
  alert: AlertKind | undefined
  /** Whether the customer is in the high-risk state after this event (hysteresis applied). */
  high: boolean
}

/** A silence step's re-score: a customer with no activity for `days`, scored as of `due`. */
export interface CheckOutcome {
  readonly customerId: string
  readonly due: number
  readonly days: number
  /** The step's length, ms: it names the row's key (`silenceTopic`). */
  readonly stepMs: number
  readonly lastSeen: number
  /** The source record the silence follows (the customer's last activity). */
  readonly anchor: { readonly topic: string, readonly partition: number, readonly offset: number }
  readonly score: ChurnScore
  alert: AlertKind | undefined
  high: boolean
}

export interface BatchResult {
  readonly records: number
  /** How many events were applied: `applied.length`. */
  readonly processed: number
  /** Valid events applied to their profiles in this batch. */
  readonly applied: readonly EventOutcome[]
  /** Silence steps re-scored in this batch. */
  readonly checks: readonly CheckOutcome[]
  /** Events at or below their profile's last applied offset: done before a crash or rebalance. */
  readonly duplicates: number
  readonly poison: readonly Poison[]
  readonly predictions: number
  readonly rowsInserted: number
  readonly alerts: number
  /** Profile writes that met another writer's newer version and were applied again. */
  readonly conflicts: number
  readonly timings: { readonly scoreMs: number, readonly databaseMs: number, readonly kafkaMs: number, readonly profilesMs: number }
}

interface Working {
  profile: CustomerProfile
  offsets: Record<string, number>
  alert: AlertState
  risk: CurrentRisk | undefined
  silence: SilenceState | undefined
  readonly version: number
  changed: boolean
}

/** A customer's state for this batch, taking over a record the store handed out (the caller's own: no copy). */
const working = (stored: ProfileRecord | undefined): Working => stored === undefined
  ? { profile: emptyProfile(), offsets: {}, alert: { high: false, lastAt: 0 }, risk: undefined, silence: undefined, version: 0, changed: false }
  : { profile: stored.profile, offsets: stored.offsets, alert: stored.alert, risk: stored.risk, silence: stored.silence, version: stored.version, changed: false }

/** The same from a record still being written by an earlier batch, which must stay as it is: a copy. */
const workingCopy = (pending: ProfileRecord): Working =>
  working({ ...pending, profile: { ...pending.profile }, offsets: { ...pending.offsets }, alert: { ...pending.alert }, version: pending.version + 1 })

/** The record a working state is written as. */
const recordOf = (w: Working): ProfileRecord => ({
  profile: w.profile, offsets: w.offsets, alert: w.alert, version: w.version,
  ...(w.risk === undefined ? {} : { risk: w.risk }), ...(w.silence === undefined ? {} : { silence: w.silence })
})

/** A score as the customer's current risk. */
function riskOf (s: ChurnScore, at: number, trigger: RiskTrigger): CurrentRisk {
  return { score: s.churn_score, band: s.risk_band, modelVersion: s.model_version, at, trigger, reasons: s.reasons.length > RISK_REASONS ? s.reasons.slice(0, RISK_REASONS) : s.reasons }
}

/** Applies an event's profile change and keeps the silence state: a new last activity starts a new silence, anchored at this record. */
function applyTo (w: Working, e: DecodedEvent, key: string): void {
  const before = w.profile.lastSeen
  applyEvent(w.profile, e.profileEvent)
  if (w.silence === undefined || w.profile.lastSeen !== before) w.silence = { steps: 0, anchor: key }
}

const text = (s: string): Buffer => Buffer.from(s)

/**
 * The customer id as a record key: the source record's own key when it holds exactly that id (the
 * usual case: events are keyed by customer), so no new buffer is made for it.
 */
function customerKey (e: DecodedEvent): Buffer {
  const key = e.record.key
  const id = e.customerId
  if (key !== undefined && key.length === id.length) {
    let same = true
    for (let i = 0; i < id.length; i++) {
      // Equal lengths and every code unit below 128 in both: the UTF-8 bytes are the same.
      if (key[i] !== id.charCodeAt(i) || (key[i] as number) >= 128) {
        same = false
        break
      }
    }
    if (same) return key
  }
  return text(id)
}

/**
 * Records handled between two turns of the event loop while a batch is prepared. Preparing a
 * large batch is tens of milliseconds of uninterrupted work, and the previous batch's writes
 * (a LOAD DATA's round trips, the producer's requests) need the event loop to make progress:
 * without these turns they waited until the whole batch was prepared, and the database sat idle.
 */
const RECORDS_PER_TURN = 1000

/**
 * Most customers one batch re-scores for their silence. A watermark that jumps (a processor back
 * after days away, a history with a gap) can make most customers due at once: they are taken a
 * batch at a time, earliest first, so a batch's memory stays bounded; an idle processor sweeps
 * again at once while any are left.
 */
export const SWEEP_LIMIT = 5000
const turn = (): Promise<void> => new Promise(resolve => { setImmediate(resolve) })

function source (r: SourceRecord): { topic: string, partition: number, offset: number } {
  return { topic: r.topic, partition: r.partition, offset: Number(r.offset) }
}

/** JSON of a number, as JSON.stringify writes it (`null` for NaN and the infinities). */
const jsonNumber = (n: number): string => Number.isFinite(n) ? String(n) : 'null'

/** JSON of the few strings that repeat on every record (model version, band, topic, feature names), kept. */
const quotedCache = new Map<string, string>()
function quoted (s: string): string {
  let q = quotedCache.get(s)
  if (q === undefined) {
    if (quotedCache.size >= 1024) quotedCache.clear()
    quotedCache.set(s, q = JSON.stringify(s))
  }
  return q
}

/** JSON.stringify of a score's reasons, byte for byte, without it. */
function reasonsJson (reasons: ChurnScore['reasons']): string {
  let out = '['
  for (let i = 0; i < reasons.length; i++) {
    const r = reasons[i] as ChurnScore['reasons'][number]
    out += `${i === 0 ? '' : ','}{"feature":${quoted(r.feature)},"value":${jsonNumber(r.value)},"impact":${jsonNumber(r.impact)}}`
  }
  return out + ']'
}

/**
 * The churn-predictions record, written as text rather than through an object and JSON.stringify:
 * this runs for every scored event. Byte for byte what JSON.stringify gives for the object
 * `{ customer_id, user_id, event_type, churn_score, risk_band, model_version, reasons,
 * event_timestamp, prediction_timestamp, source: { topic, partition, offset } }` (a test holds it
 * to that). `predictedAt` and `stamp` are `at` as text and as a Kafka timestamp, made once per batch.
 */
export function predictionMessage (topic: string, e: DecodedEvent, s: ChurnScore, at: number, predictedAt = isoUtc(at), stamp = BigInt(at)): OutMessage {
  const r = e.record
  const customerId = JSON.stringify(e.customerId)
  const value = `{"customer_id":${customerId},"user_id":${typeof e.rawId === 'number' ? jsonNumber(e.rawId) : customerId},"event_type":${quoted(e.eventType)}` +
    `,"churn_score":${jsonNumber(s.churn_score)},"risk_band":${quoted(s.risk_band)},"model_version":${quoted(s.model_version)}` +
    `,"reasons":${reasonsJson(s.reasons)},"event_timestamp":"${isoUtc(e.time)}","prediction_timestamp":"${predictedAt}"` +
    `,"source":{"topic":${quoted(r.topic)},"partition":${r.partition},"offset":${Number(r.offset)}}}`
  return { topic, key: customerKey(e), value: text(value), timestamp: stamp }
}

/** The churn-predictions record of a silence step: the prediction record's fields, with the trigger and the silence. */
export function checkMessage (topic: string, c: CheckOutcome, at: number): OutMessage {
  const s = c.score
  const value = {
    customer_id: c.customerId,
    user_id: c.customerId,
    event_type: INACTIVITY_CHECK,
    churn_score: s.churn_score,
    risk_band: s.risk_band,
    model_version: s.model_version,
    reasons: s.reasons,
    event_timestamp: isoUtc(c.due),
    prediction_timestamp: isoUtc(at),
    trigger: RiskTriggers.INACTIVITY,
    silence_days: c.days,
    last_seen: isoUtc(c.lastSeen),
    source: c.anchor
  }
  return { topic, key: text(c.customerId), value: text(JSON.stringify(value)), timestamp: BigInt(at) }
}

/** The churn_predictions row of a silence step, keyed by the record the silence follows and the step, so a replay inserts it once. */
export function checkRow (c: CheckOutcome, at: number): PredictionRow {
  return {
    userId: c.customerId,
    eventType: INACTIVITY_CHECK,
    churnScore: c.score.churn_score,
    eventTime: c.due,
    predictionTime: at,
    metadata: JSON.stringify({ trigger: RiskTriggers.INACTIVITY, silence_days: c.days, last_seen: isoUtc(c.lastSeen) }),
    topic: silenceTopic(c.anchor.topic, c.stepMs),
    partition: c.anchor.partition,
    offset: BigInt(c.anchor.offset)
  }
}

function silenceAlertMessage (topic: string, kind: AlertKind, c: CheckOutcome, at: number): OutMessage {
  const s = c.score
  const value = {
    alert_type: kind,
    reason: 'silence',
    customer_id: c.customerId,
    event_type: INACTIVITY_CHECK,
    churn_score: s.churn_score,
    risk_band: s.risk_band,
    reasons: s.reasons,
    silence_days: c.days,
    last_seen: isoUtc(c.lastSeen),
    event_timestamp: isoUtc(c.due),
    alert_timestamp: isoUtc(at),
    source: c.anchor
  }
  return { topic, key: text(c.customerId), value: text(JSON.stringify(value)), timestamp: BigInt(at) }
}

function alertMessage (topic: string, kind: AlertKind, e: DecodedEvent, s: ChurnScore | undefined, at: number): OutMessage {
  const value = {
    alert_type: kind,
    customer_id: e.customerId,
    event_type: e.eventType,
    churn_score: s?.churn_score ?? null,
    risk_band: s?.risk_band ?? null,
    reasons: s?.reasons ?? [],
    event_timestamp: isoUtc(e.time),
    alert_timestamp: isoUtc(at),
    source: source(e.record)
  }
  return { topic, key: customerKey(e), value: text(JSON.stringify(value)), timestamp: BigInt(at) }
}

/** Applies a customer's events of this batch that its record has not seen yet; true when any was new. */
function applyNew (w: Working, events: readonly DecodedEvent[]): boolean {
  let any = false
  for (const e of events) {
    const key = partitionKey(e.record)
    const last = w.offsets[key]
    const offset = Number(e.record.offset)
    if (last !== undefined && offset <= last) continue
    applyTo(w, e, key)
    w.offsets[key] = offset
    any = true
  }
  return any
}

/**
 * Handles one batch: decode and validate, update profiles exactly once per event, score, then
 * write every sink (SQL rows, the predictions and alerts topics, the dead-letter topic) and last
 * the profiles. Profiles go last so that an event a profile has applied is one whose sinks are
 * all written: a replay after a crash skips it, and a replay before the profile write recomputes
 * the same results, which the idempotent sinks absorb. Each dependency call waits out outages
 * through its `Dependency`; the caller commits the batch's offsets only after this resolves.
 */
export async function processBatch (records: readonly SourceRecord[], ctx: BatchContext): Promise<BatchResult> {
  return (await prepareBatch(records, ctx, new Map())).write()
}

/**
 * Profiles a processor has computed but not yet written (their batch's sinks are in flight), by
 * customer. The next batch starts from these instead of the store, so batches can overlap.
 */
export type ProfileOverlay = Map<string, ProfileRecord>

/** A batch whose profiles are applied and events scored; `write` sends it to every sink. */
export interface PreparedBatch {
  write (): Promise<BatchResult>
}

/**
 * The computing half of `processBatch`: decode, read profiles (from `overlay` first), apply and
 * score. Its profiles go into `overlay` until `write` has stored them, so the next batch can be
 * prepared while this one is written. Writes must run one at a time, in order.
 */
export async function prepareBatch (records: readonly SourceRecord[], ctx: BatchContext, overlay: ProfileOverlay, options: { idleAt?: number } = {}): Promise<PreparedBatch> {
  const now = ctx.now ?? Date.now
  const at = now()
  const poison: Poison[] = []
  const events: DecodedEvent[] = []
  // A turn first: the writes just started send their requests while this batch is decoded.
  await turn()
  let sinceTurn = 0
  const turnDue = (): boolean => {
    if (++sinceTurn < RECORDS_PER_TURN) return false
    sinceTurn = 0
    return true
  }
  for (const r of records) {
    if (turnDue()) await turn()
    const d = decodeRecord(r, ctx.topics.streamOf(r.topic))
    if (d.ok) events.push(d.event)
    else poison.push(d.poison)
  }

  // The overlay's records are taken now: the batch before may finish writing (and leave the
  // overlay) while the others are read from the store.
  const scorer = ctx.scorer
  const customers = new Map<string, Working | undefined>()
  const pending = new Map<string, ProfileRecord>()
  const unknown: string[] = []
  for (const e of events) {
    const id = e.customerId
    if (customers.has(id)) continue
    customers.set(id, undefined)
    const p = overlay.get(id)
    if (p === undefined) unknown.push(id)
    else pending.set(id, p)
  }
  let t = performance.now()
  const stored = unknown.length === 0 ? new Map<string, ProfileRecord>() : await ctx.dependencies.profiles.run(() => ctx.profiles.getMany(unknown), ctx.signal)
  let profilesMs = performance.now() - t
  for (const id of customers.keys()) {
    const p = pending.get(id)
    // A profile still being written will be stored with version + 1: expect that.
    customers.set(id, p === undefined ? working(stored.get(id)) : workingCopy(p))
  }

  const applied: EventOutcome[] = []
  const checks: CheckOutcome[] = []
  /** Events and silence checks in the order their alerts are decided (event time per customer). */
  const order: (EventOutcome | CheckOutcome)[] = []
  /** Each one's customer state, beside `order`: looked up once, not twice. */
  const orderTo: Working[] = []
  const silence = scorer.kind === 'model' ? ctx.silence : undefined
  /** Scores the silence steps of a customer due before `upTo`, in order. */
  const fireDue = (id: string, w: Working, upTo: number): void => {
    if (silence === undefined || scorer.kind !== 'model') return
    for (;;) {
      const s = w.silence
      if (s === undefined) return
      const due = nextDue(silence.policy, w.profile.lastSeen, s.steps)
      if (due === undefined || due >= upTo) return
      const anchorOffset = w.offsets[s.anchor]
      const anchor = parsePartitionKey(s.anchor)
      if (anchorOffset === undefined || anchor === undefined) return
      const check: CheckOutcome = {
        customerId: id,
        due,
        days: silenceDays(silence.policy, s.steps),
        stepMs: silence.policy.stepsMs[s.steps] as number,
        lastSeen: w.profile.lastSeen,
        anchor: { ...anchor, offset: anchorOffset },
        score: scorer.current.score(w.profile, due),
        alert: undefined,
        high: w.alert.high
      }
      checks.push(check)
      order.push(check)
      orderTo.push(w)
      w.silence = { steps: s.steps + 1, anchor: s.anchor }
      w.changed = true
    }
  }
  const touched = new Set<number>()
  const remote: RemoteRequest[] = []
  const remoteOutcomes: EventOutcome[] = []
  let duplicates = 0
  t = performance.now()
  for (const e of events) {
    if (turnDue()) await turn()
    const w = customers.get(e.customerId) as Working
    const key = partitionKey(e.record)
    const last = w.offsets[key]
    const offset = Number(e.record.offset)
    if (last !== undefined && offset <= last) {
      duplicates++
      continue
    }
    const scored = e.stream === Streams.USER_EVENTS || ctx.scoredCustomerTypes.has(e.eventType)
    const before = scored && scorer.kind === 'http' ? { ...w.profile } : undefined
    // The silence this event ends: its steps due before the event are scored first, as they were.
    fireDue(e.customerId, w, e.time)
    applyTo(w, e, key)
    w.offsets[key] = offset
    w.changed = true
    const index = silence?.index(e.record.partition)
    if (silence !== undefined && index !== undefined) {
      index.observe(e.record.topic, e.time)
      index.set(e.customerId, nextDue(silence.policy, w.profile.lastSeen, w.silence?.steps ?? 0))
      touched.add(e.record.partition)
    }
    const outcome: EventOutcome = { event: e, score: undefined, alert: undefined, high: w.alert.high }
    if (scored) {
      if (scorer.kind === 'model') outcome.score = scorer.current.score(w.profile, e.time)
      else {
        remote.push({ event: e, profile: before as CustomerProfile })
        remoteOutcomes.push(outcome)
      }
    }
    applied.push(outcome)
    order.push(outcome)
    orderTo.push(w)
  }
  if (remote.length > 0) {
    const scoring = ctx.dependencies.scoring as Dependency
    const results = await scoring.run(() => (scorer as Extract<Scorer, { kind: 'http' }>).scoreMany(remote, ctx.signal), ctx.signal)
    results.forEach((result, i) => {
      const outcome = remoteOutcomes[i] as EventOutcome
      if (result.ok) outcome.score = result.score
      else poison.push({ record: outcome.event.record, code: PoisonCodes.REJECTED_BY_SCORER, message: `the scoring API refused the event (HTTP ${result.status}): ${result.message}` })
    })
  }

  // The sweep: every customer of a partition whose next step the partition's watermark has
  // passed, taken from its due index (never a scan of the customers). Idle, a live partition's
  // watermark is the wall clock.
  if (silence !== undefined) {
    if (options.idleAt !== undefined) {
      for (const p of silence.partitions()) {
        (silence.index(p) as DueIndex).advanceTo(options.idleAt, silence.policy.liveWindowMs)
        touched.add(p)
      }
    }
    const due: [string, DueIndex][] = []
    for (const p of touched) {
      const index = silence.index(p) as DueIndex
      for (const id of index.takeDue(index.watermark - 1, SWEEP_LIMIT - due.length)) due.push([id, index])
    }
    const unread = due.map(d => d[0]).filter(id => !customers.has(id) && !overlay.has(id))
    const read = unread.length === 0 ? new Map<string, ProfileRecord>() : await ctx.dependencies.profiles.run(() => ctx.profiles.getMany(unread), ctx.signal)
    for (const [id, index] of due) {
      if (turnDue()) await turn()
      let w = customers.get(id)
      if (w === undefined) {
        const p = overlay.get(id)
        w = p === undefined ? working(read.get(id)) : workingCopy(p)
        customers.set(id, w)
      }
      // Strictly before the watermark, as before an event: a step due at the very time of the
      // customer's next event is not scored, whichever batch that event falls in.
      fireDue(id, w, index.watermark)
      if (w.silence !== undefined) index.set(id, nextDue(silence.policy, w.profile.lastSeen, w.silence.steps))
    }
  }
  const scoreMs = performance.now() - t

  // Alerts in event order per customer, after every score is known.
  const rows: PredictionRow[] = []
  const messages: OutMessage[] = []
  const predictedAt = isoUtc(at)
  const stamp = BigInt(at)
  let alerts = 0
  for (let i = 0; i < order.length; i++) {
    if (turnDue()) await turn()
    const w = orderTo[i] as Working
    const next = order[i] as EventOutcome | CheckOutcome
    if (!('event' in next)) {
      const decision = decideAlert(ctx.alerts, w.alert, INACTIVITY_CHECK, next.score.churn_score, next.due)
      w.alert = decision.state
      next.alert = decision.alert
      next.high = decision.state.high
      w.risk = riskOf(next.score, next.due, RiskTriggers.INACTIVITY)
      rows.push(checkRow(next, at))
      messages.push(checkMessage(ctx.topics.predictions, next, at))
      if (decision.alert !== undefined) {
        alerts++
        messages.push(silenceAlertMessage(ctx.topics.alerts, decision.alert, next, at))
      }
      continue
    }
    const outcome = next
    const e = outcome.event
    const decision = decideAlert(ctx.alerts, w.alert, e.eventType, outcome.score?.churn_score, e.time)
    w.alert = decision.state
    outcome.alert = decision.alert
    outcome.high = decision.state.high
    if (outcome.score !== undefined) {
      w.risk = riskOf(outcome.score, e.time, RiskTriggers.EVENT)
      rows.push({
        userId: e.customerId,
        eventType: e.eventType,
        churnScore: outcome.score.churn_score,
        eventTime: e.time,
        predictionTime: at,
        metadata: e.details === null ? null : JSON.stringify(e.details),
        topic: e.record.topic,
        partition: e.record.partition,
        offset: e.record.offset
      })
      messages.push(predictionMessage(ctx.topics.predictions, e, outcome.score, at, predictedAt, stamp))
    }
    if (decision.alert !== undefined) {
      alerts++
      messages.push(alertMessage(ctx.topics.alerts, decision.alert, e, outcome.score, at))
    }
  }
  for (const p of poison) messages.push(deadLetterMessage(p, ctx.topics.deadLetter(p.record.topic), at))

  const written = new Map<string, ProfileRecord>()
  for (const [id, w] of customers as Map<string, Working>) {
    if (!w.changed) continue
    const record = recordOf(w)
    written.set(id, record)
    overlay.set(id, record)
  }

  return {
    async write (): Promise<BatchResult> {
      // The SQL rows and the Kafka records are independent and both idempotent: write them at once.
      let t = performance.now()
      let databaseMs = 0
      let kafkaMs = 0
      const [rowsInserted] = await Promise.all([
        rows.length === 0 ? 0 : ctx.dependencies.database.run(() => ctx.predictions.insert(rows), ctx.signal).finally(() => { databaseMs = performance.now() - t }),
        messages.length === 0 ? undefined : ctx.dependencies.kafka.run(() => ctx.output.send(messages), ctx.signal).finally(() => { kafkaMs = performance.now() - t })
      ])
      t = performance.now()
      const conflicts = await writeProfiles(written, events, ctx)
      profilesMs += performance.now() - t
      // Stored now: later batches read them from the store, unless one of them has a newer one in flight.
      for (const [id, record] of written) if (overlay.get(id) === record) overlay.delete(id)
      return {
        records: records.length,
        processed: applied.length,
        applied,
        checks,
        duplicates,
        poison,
        predictions: rows.length,
        rowsInserted,
        alerts,
        conflicts,
        timings: { scoreMs, databaseMs, kafkaMs, profilesMs }
      }
    }
  }
}

/**
 * Writes the changed profiles with compare-and-set. A conflict means another processor wrote the
 * customer meanwhile (a rebalance moved the partition while this batch was in hand): re-read it
 * and apply only what it has not seen, until the write goes through.
 */
async function writeProfiles (records: ReadonlyMap<string, ProfileRecord>, events: readonly DecodedEvent[], ctx: BatchContext): Promise<number> {
  let pending: ReadonlyMap<string, ProfileRecord> = records
  let conflicts = 0
  while (pending.size > 0) {
    const batch = pending
    const conflicting = await ctx.dependencies.profiles.run(() => ctx.profiles.putMany(batch), ctx.signal)
    if (conflicting.length === 0) break
    conflicts += conflicting.length
    const fresh = await ctx.dependencies.profiles.run(() => ctx.profiles.getMany(conflicting), ctx.signal)
    const next = new Map<string, ProfileRecord>()
    for (const id of conflicting) {
      const w = working(fresh.get(id))
      if (applyNew(w, events.filter(e => e.customerId === id))) next.set(id, recordOf(w))
    }
    pending = next
  }
  return conflicts
}
