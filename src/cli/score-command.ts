import { createWriteStream } from 'node:fs'
import { once } from 'node:events'
import { finished } from 'node:stream/promises'
import { ChurnScorer, profilesAsOf, riskAsOf, shippedChurnModelPath, type History } from '../churn/index.ts'
import type { Command } from './command.ts'
import { mapFlag, usage } from './flags.ts'
import { loadHistory, timeFlag } from './train-command.ts'

/** The time of the history's latest event. */
function lastEventTime (history: History): number {
  let last = Number.NEGATIVE_INFINITY
  for (let i = 0; i < history.size; i++) last = Math.max(last, history.time[i] as number)
  return last
}

export const scoreCommand: Command = {
  name: 'score',
  summary: 'every customer\'s churn risk as of a time, from event history (a JSON-lines file or Kafka topics)',
  usage: 'churnflow score --events FILE_OR_TOPICS [--map f=col,...] [--model FILE] [--at DATE] [--output FILE]',
  help: [
    'Replays the history up to --at into customer profiles and scores each customer seen by then as of that time:',
    'a customer who has been silent since their last event is scored with that silence. Events after --at are ignored.',
    'Writes one JSON line per customer: customer_id, churn_score, risk_band, reasons, last_seen, model_version, scored_at.',
    '  --events F      a JSON-lines file of user-events and customer-events, a .csv file (--map f=col,... names',
    '                  its columns, as produce --from-file takes them), or topics (user-events,customer-events),',
    '                  read from their beginning to their end as of now',
    '  --model FILE    the churn model (default: CHURN_MODEL, else the shipped model)',
    '  --at DATE       the time to score at, a date (midnight UTC) or an ISO 8601 time (default: the last event\'s time)',
    '  --output FILE   where to write the lines (default: standard output)'
  ].join('\n'),
  options: {
    events: { type: 'string' },
    at: { type: 'string' },
    map: { type: 'string' },
    output: { type: 'string' }
  },
  async run ({ values, config, log, out }) {
    if (typeof values.events !== 'string') throw usage('score needs --events FILE_OR_TOPICS')
    const at = typeof values.at === 'string' ? timeFlag('at', values.at) : undefined
    const scorer = ChurnScorer.fromFile(config.churnModel ?? shippedChurnModelPath)
    const history = await loadHistory(values.events, config, log, mapFlag(values))
    const when = at ?? lastEventTime(history)
    const profiles = profilesAsOf(history, when)
    const file = typeof values.output === 'string' ? createWriteStream(values.output) : undefined
    let scored = 0
    for (let c = 0; c < profiles.length; c++) {
      const profile = profiles[c]
      if (profile === undefined) continue
      const line = JSON.stringify(riskAsOf(scorer, history.customers[c] as string, profile, when))
      scored++
      if (file === undefined) out(line)
      else if (!file.write(`${line}\n`)) await once(file, 'drain')
    }
    if (file !== undefined) {
      file.end()
      await finished(file)
      log.info(`Wrote ${scored} customers' risk as of ${new Date(when).toISOString()} with ${scorer.version} to ${String(values.output)}`)
    }
    return 0
  }
}
