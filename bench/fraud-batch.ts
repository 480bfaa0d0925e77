// The fraud pipeline's own CPU per transaction, with no broker or database: decode and validate,
// load each account from its changelog bytes, apply and score in process (the shipped fraud
// model, with reasons), build the transactions and predictions rows and the fraud-predictions and
// fraud-alerts records, and encode the changed accounts again. Simulated transactions keyed by
// account over 6 partitions, drained in batches of BATCH_SIZE as a runtime would.
//
//   node bench/fraud-batch.ts [--transactions=300000] [--accounts=20000] [--batch-size=100] [--rounds=3]
//
// The figure moves with the machine's load; compare two versions in alternating runs.
import { parseArgs } from 'node:util'
import {
  accountIds, decodeAccount, decodeTransactions, encodeAccount, fraudBatch, FraudScorer, shippedFraudModelPath, type AccountRecord
} from '../src/fraud/index.ts'
import type { SourceRecord } from '../src/processor/index.ts'
import { TransactionStream } from '../src/simulator/index.ts'
import { Rng } from '../src/util/rng.ts'

const { values } = parseArgs({ options: { transactions: { type: 'string', default: '300000' }, accounts: { type: 'string', default: '20000' }, 'batch-size': { type: 'string', default: '100' }, rounds: { type: 'string', default: '3' } } })
const total = Number(values.transactions)
const batchSize = Number(values['batch-size'])
const PARTITIONS = 6

const start = Date.UTC(2025, 0, 1)
const stream = new TransactionStream(new Rng(1), { accounts: Number(values.accounts), fraudRate: 0.01, start, end: Infinity })
const partitions: SourceRecord[][] = Array.from({ length: PARTITIONS }, () => [])
for (let i = 0; i < total; i++) {
  const r = stream.next()
  if (r === undefined) break
  const partition = Number(r.key.slice(4)) % PARTITIONS
  const p = partitions[partition] as SourceRecord[]
  p.push({ topic: 'transactions', partition, offset: BigInt(p.length), key: Buffer.from(r.key), value: Buffer.from(JSON.stringify(r.value)), headers: undefined, timestamp: r.time })
}
const batches: SourceRecord[][] = []
for (const p of partitions) for (let i = 0; i < p.length; i += batchSize) batches.push(p.slice(i, i + batchSize))

const ctx = {
  scorer: { kind: 'model', name: 'model', current: FraudScorer.fromFile(shippedFraudModelPath) } as const,
  topics: { predictions: 'fraud-predictions', alerts: 'fraud-alerts', deadLetter: (s: string) => `${s}-failed` },
  signal: new AbortController().signal
}

for (let round = 1; round <= Number(values.rounds); round++) {
  const store = new Map<string, Buffer>()
  const times: number[] = []
  let fraud = 0
  let messages = 0
  const began = performance.now()
  for (const records of batches) {
    const t = performance.now()
    const batch = decodeTransactions(records)
    const loaded = new Map<string, AccountRecord>()
    for (const id of accountIds(batch)) {
      const bytes = store.get(id)
      if (bytes !== undefined) loaded.set(id, decodeAccount(bytes))
    }
    const result = await fraudBatch(batch, loaded, ctx)
    for (const [id, account] of result.accounts) store.set(id, encodeAccount(account))
    fraud += result.counts.fraud
    messages += result.messages.length
    times.push(performance.now() - t)
  }
  const seconds = (performance.now() - began) / 1000
  times.sort((a, b) => a - b)
  const q = (p: number): string => (times[Math.min(times.length - 1, Math.floor(p * times.length))] as number).toFixed(2)
  console.log(`round ${round}: ${total} transactions in ${seconds.toFixed(2)} s = ${Math.round(total / seconds)}/s; batch of ${batchSize}: p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${q(1)} ms; ${fraud} fraud, ${messages} records; state ${store.size} accounts, ${Math.round([...store.values()].reduce((s, b) => s + b.length, 0) / store.size)} bytes each`)
}
