import { AT_RISK_LIMIT, type CustomerReader } from '../processor/customers.ts'
import type { ApiPlugin } from './types.ts'

/**
 * GET /customers/at-risk?limit=&band=&segment= (customers ranked by current risk, silent ones
 * included, with reasons, days of silence and tenure segment) and GET /customers/:id (profile
 * summary, current risk, reasons, latest predictions): on the processor's ops port and on the
 * scoring API.
 */
export const customerRoutes: ApiPlugin<{ customers: CustomerReader }> = async (app, { customers }) => {
  app.get('/customers/at-risk', async (request, reply) => {
    const q = request.query as Record<string, string | undefined>
    const limit = q.limit === undefined ? 50 : Number(q.limit)
    if (!Number.isInteger(limit) || limit < 1 || limit > AT_RISK_LIMIT) {
      return reply.status(400).send({ error: `limit must be a whole number from 1 to ${AT_RISK_LIMIT}` })
    }
    const band = q.band === undefined || q.band === '' ? undefined : q.band
    const segment = q.segment === undefined || q.segment === '' ? undefined : q.segment
    try {
      const list = await customers.atRisk({ limit, band, segment })
      return { count: list.length, customers: list }
    } catch (error) {
      if (error instanceof RangeError) return reply.status(400).send({ error: error.message })
      throw error
    }
  })
  app.get('/customers/:id', async (request, reply) => {
    const { id } = request.params as { id: string }
    const view = await customers.customer(id)
    if (view === undefined) return reply.status(404).send({ error: `no customer ${JSON.stringify(id)} in this processor's state` })
    return view
  })
}
