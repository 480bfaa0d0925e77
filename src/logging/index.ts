export { createLogger, formatTextLine, type Logger, type LoggerOptions } from './logger.ts'
