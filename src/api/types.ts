import type { FastifyPluginAsync, FastifyPluginOptions, FastifyTypeProviderDefault, RawServerDefault } from 'fastify'
import type { ModelHolder } from '../churn/index.ts'
import type { FraudScorer } from '../fraud/index.ts'
import type { Logger } from '../logging/index.ts'
import type { CustomerProfile } from '../profile/index.ts'
import type { CustomerReader } from '../processor/customers.ts'

/** Reads a customer's profile, when the API is given a profile store. */
export interface ProfileReader {
  readonly name: string
  get (customerId: string): Promise<CustomerProfile | undefined>
  ping (): Promise<void>
  /** Closes the store; called when the API closes, if the API owns it. */
  close? (): Promise<void>
}

export interface ApiOptions {
  readonly models: ModelHolder
  readonly log: Logger
  readonly profiles?: ProfileReader
  /** A churn processor's customers (its state), for GET /customers/at-risk and /customers/:id. */
  readonly customers?: CustomerReader
  /** The fraud model behind POST /predict; the route answers 503 without one. */
  readonly fraud?: { readonly current: FraudScorer }
  /** When set, every route but /health needs it in the x-api-key header. */
  readonly apiKey?: string
  /** Largest body accepted, in bytes (default 1 MiB). */
  readonly bodyLimit?: number
  /** Most events or transactions in one batch request (default 1,000). */
  readonly maxBatch?: number
  /**
   * True when the API owns `models` and `profiles`: closing the API (its onClose hook) closes
   * them too. Leave it unset when something else shares and closes them (`churnflow up`).
   */
  readonly ownsResources?: boolean
}

/** A plugin of the scoring API: one concern's routes, on the API's Fastify instance with churnflow's logger. */
export type ApiPlugin<Options extends FastifyPluginOptions> = FastifyPluginAsync<Options, RawServerDefault, FastifyTypeProviderDefault, Logger>
