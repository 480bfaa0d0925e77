import secureJson from 'secure-json-parse'
import { ApiErrorCodes, RequestError } from '../errors.ts'

/** Events are shallow; anything deeper is not an event (and MySQL's JSON type stops at 100). */
export const MAX_DEPTH = 32

/** The deepest nesting of objects and arrays in JSON text, ignoring brackets inside strings. */
export function nestingDepth (text: string): number {
  let depth = 0
  let max = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 92) i++ // a backslash escapes the next character
      else if (c === 34) inString = false
    } else if (c === 34) {
      inString = true
    } else if (c === 123 || c === 91) {
      if (++depth > max) max = depth
    } else if (c === 125 || c === 93) {
      depth--
    }
  }
  return max
}

/** Parses a request body: anything that is not JSON, nests too deep, or smuggles __proto__ is a 400. */
export function parseBody (text: string): unknown {
  if (nestingDepth(text) > MAX_DEPTH) throw new RequestError(400, ApiErrorCodes.INVALID_JSON, `the JSON nests deeper than ${MAX_DEPTH} levels`)
  try {
    return secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' })
  } catch (error) {
    throw new RequestError(400, ApiErrorCodes.INVALID_JSON, `the body is not valid JSON: ${(error as Error).message}`)
  }
}
