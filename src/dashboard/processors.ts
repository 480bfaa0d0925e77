import type { AtRiskCustomer as ProcessorAtRisk, CustomerView } from '../processor/customers.ts'

/** What the processors' `/customers/at-risk` routes answered: the merged list, and how many answered. */
export interface ProcessorsAtRisk {
  readonly customers: ProcessorAtRisk[]
  /** Processors whose route answered; 0 means the list must come from elsewhere. */
  readonly answered: number
  readonly asked: number
}

const base = (url: string): string => url.replace(/\/+$/, '')

async function getJson (url: string, timeoutMs: number): Promise<unknown> {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } })
  if (!response.ok) {
    await response.body?.cancel()
    return undefined
  }
  return response.json()
}

/**
 * Asks every processor's `GET /customers/at-risk` and merges the answers by score, highest first,
 * keeping the best `limit`: each processor ranks the customers of the partitions it holds. A
 * processor that does not answer (down, or older, with no such route) is left out.
 */
export async function processorsAtRisk (opsUrls: readonly string[], query: { limit: number, band?: string, segment?: string }, timeoutMs = 2000): Promise<ProcessorsAtRisk> {
  const params = new URLSearchParams({ limit: String(query.limit) })
  if (query.band !== undefined) params.set('band', query.band)
  if (query.segment !== undefined) params.set('segment', query.segment)
  const answers = await Promise.all(opsUrls.map(async url => {
    try {
      const body = await getJson(`${base(url)}/customers/at-risk?${params}`, timeoutMs) as { customers?: unknown } | undefined
      return Array.isArray(body?.customers) ? body.customers as ProcessorAtRisk[] : undefined
    } catch {
      return undefined
    }
  }))
  // A customer moving between processors (a rebalance) may be in two answers: the later score counts.
  const byId = new Map<string, ProcessorAtRisk>()
  for (const c of answers.flatMap(a => a ?? [])) {
    const seen = byId.get(c.customer_id)
    if (seen === undefined || seen.scored_at < c.scored_at) byId.set(c.customer_id, c)
  }
  const customers = [...byId.values()]
    .sort((a, b) => b.churn_score - a.churn_score || (a.customer_id < b.customer_id ? -1 : a.customer_id > b.customer_id ? 1 : 0))
    .slice(0, query.limit)
  return { customers, answered: answers.filter(a => a !== undefined).length, asked: opsUrls.length }
}

/** A customer's page from the processor holding them (`GET /customers/:id`); undefined when none knows them. */
export async function processorCustomer (opsUrls: readonly string[], id: string, timeoutMs = 2000): Promise<(CustomerView & { processor: string }) | undefined> {
  const answers = await Promise.all(opsUrls.map(async url => {
    try {
      const view = await getJson(`${base(url)}/customers/${encodeURIComponent(id)}`, timeoutMs) as CustomerView | undefined
      return view?.customer_id === id ? { ...view, processor: base(url) } : undefined
    } catch {
      return undefined
    }
  }))
  // Two processors may know a customer during a rebalance: the later score counts.
  return answers.filter(a => a !== undefined).sort((a, b) => (b.risk?.scored_at ?? '').localeCompare(a.risk?.scored_at ?? ''))[0]
}
