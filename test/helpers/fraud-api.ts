import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { TestContext } from 'node:test'
import { featureVector, FRAUD_BATCH_ROUTE, FraudScorer, shippedFraudModelPath } from '../../src/fraud/index.ts'

export interface TestFraudApi {
  readonly url: string
  /** The size of each batch it was asked to score. */
  readonly calls: number[]
  /** Whether it refuses batches holding merchant `REFUSE-ME` (true until told otherwise: "the fix"). */
  refusing: boolean
  stop (): Promise<void>
  /** Listens again, on the same port. */
  start (): Promise<void>
}

/**
 * A small real HTTP server with the scoring API's batch route contract, answering with the shipped
 * fraud model from the features each transaction carries (so it scores exactly as in process).
 * While `refusing`, it refuses (400) any batch holding merchant `REFUSE-ME`. Stopped when the test ends.
 */
export async function testFraudApi (t: TestContext): Promise<TestFraudApi> {
  const model = FraudScorer.fromFile(shippedFraudModelPath)
  const calls: number[] = []
  let server: Server | undefined
  let port = 0
  const api: TestFraudApi = {
    get url () { return `http://127.0.0.1:${port}` },
    calls,
    refusing: true,
    stop: async () => {
      const s = server
      server = undefined
      if (s !== undefined) await new Promise<void>(resolve => { s.closeAllConnections(); s.close(() => { resolve() }) })
    },
    start: async () => {
      server = createServer((req, res) => {
        let body = ''
        req.on('data', (d: Buffer) => { body += d.toString() })
        req.on('end', () => {
          if (req.method !== 'POST' || req.url !== FRAUD_BATCH_ROUTE) { res.writeHead(404).end(); return }
          const { transactions } = JSON.parse(body) as { transactions: { transaction_id: string, merchant_id: string, account: Record<string, unknown> }[] }
          calls.push(transactions.length)
          const reply = (status: number, value: unknown): void => { res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value)) }
          if (api.refusing && transactions.some(tx => tx.merchant_id === 'REFUSE-ME')) { reply(400, { error: 'invalid_request', message: 'merchant REFUSE-ME is refused' }); return }
          const predictions = transactions.map(tx => {
            const x = featureVector(tx.account)
            if (typeof x === 'string') throw new Error(`no feature ${x}`)
            return { transaction_id: tx.transaction_id, ...model.scoreFeatures(x) }
          })
          reply(200, { predictions })
        })
      })
      await new Promise<void>(resolve => server!.listen(port, '127.0.0.1', resolve))
      port = (server!.address() as AddressInfo).port
    }
  }
  await api.start()
  t.after(api.stop)
  return api
}
