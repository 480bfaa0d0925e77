export {
  checkCustomerEvent, checkCustomerEventData, checkTransaction, checkUserEvent, customerEventDataSchemas,
  CustomerEventSchema, customerEventTypes, Streams, TransactionFormats, TransactionSchema, UserEventSchema, userEventTypes, userEventWeights,
  type CustomerEvent, type CustomerEventType, type EventStream, type Stream, type Transaction, type UserEvent, type UserEventType
} from './schemas.ts'
export { isoNaiveMicros, isoUtc, parseEventTime, utcText } from './time.ts'
export { isoCountries, isoCurrencies } from './iso-codes.ts'
