import { fileURLToPath } from 'node:url'

/** The churn model that ships with churnflow, trained on simulator history. */
export const shippedChurnModelPath = fileURLToPath(new URL('../../models/churn-model.json', import.meta.url))
