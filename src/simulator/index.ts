export { customerId, productCode } from './catalog.ts'
export { anonymousContext, customerEventData, type CustomerContext } from './customer-data.ts'
export {
  expm, HiddenStates, hiddenStateNames, noPurchaseProbability, stateAt, trueChurnProbability,
  type ChurnRates, type CustomerTruth, type HiddenState
} from './oracle.ts'
export { behaviour, Population, type PopulationOptions } from './population.ts'
export {
  RandomCustomerEvents, randomCustomerEventWeights, RandomUserEvents, seed002Event, seed003Event, UserEventShapes,
  type UserEventShape
} from './random-events.ts'
export { FraudPatterns, merchantCategories, transactionDefaults, TransactionStream, type FraudPattern, type SimulatedTransaction, type TransactionOptions, type TransactionTruth } from './transactions.ts'
export type { SimRecord } from './types.ts'
