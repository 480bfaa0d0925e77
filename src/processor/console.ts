import type { Logger } from '../logging/index.ts'
import type { BatchResult } from './batch.ts'

/** the churn prediction consumer's four lines per event (and one per dead-lettered record), for low rates and the demo. */
export function logEventLines (log: Logger, result: BatchResult, deadLetterTopic: (source: string) => string): void {
  for (const p of result.poison) {
    log.warn({ code: p.code, topic: p.record.topic, partition: p.record.partition, offset: Number(p.record.offset) }, `Record sent to ${deadLetterTopic(p.record.topic)}: ${p.message}`)
  }
  for (const a of result.applied) {
    const e = a.event
    const key = e.record.key?.toString('utf8') ?? ''
    log.info(`Processing event - User: ${e.customerId}, Type: ${e.eventType}, Key: ${key}`)
    if (a.score === undefined) {
      if (a.alert !== undefined) log.warn(`🚨 Alert (${a.alert}) - User: ${e.customerId}, Type: ${e.eventType}`)
      log.info(`✅ Event processed successfully - User: ${e.customerId} (profile updated; ${e.eventType} is not scored)`)
      continue
    }
    log.info(`Churn prediction received - User: ${e.customerId}, Score: ${a.score.churn_score}`)
    log.info(`Prediction saved to database - User: ${e.customerId}, Score: ${a.score.churn_score}`)
    if (a.alert !== undefined) log.warn(`🚨 Alert (${a.alert}) - User: ${e.customerId}, Type: ${e.eventType}, Churn Score: ${a.score.churn_score}`)
    log.info(`✅ Event processed successfully - User: ${e.customerId}, Churn Score: ${a.score.churn_score}`)
  }
}
