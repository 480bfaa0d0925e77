export {
  errorCodeOf, headerText, NO_ERROR_CODE, NO_TARGET, REPLAYED_FROM_HEADER, replayDeadLetters, replayGroupId, replayMessage, ReplayStops, replayTarget,
  type DeadLetterRecord, type DeadLetterSample, type ReplayOptions, type ReplayProgress, type ReplayResult, type ReplayStop
} from './replay.ts'
