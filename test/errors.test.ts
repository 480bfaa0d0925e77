import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  ApiErrorCodes, ErrorCodes, isChurnflowError, PartStopped, RequestError, SnapshotDefect, StoppedWhileWaiting, type ChurnflowError
} from '../src/errors.ts'

test('every error code is prefixed and used once; the API\'s wire codes are distinct too', () => {
  const codes = Object.values(ErrorCodes)
  for (const code of codes) assert.match(code, /^CHURNFLOW_[A-Z0-9_]+$/)
  assert.equal(new Set(codes).size, codes.length, 'a code is used for two meanings')
  const wire = Object.values(ApiErrorCodes)
  for (const code of wire) assert.match(code, /^[a-z_]+$/)
  assert.equal(new Set(wire).size, wire.length)
})

test('the errors that lived outside the registry are ChurnflowErrors with their own codes', () => {
  const cause = new Error('broker gone')
  const cases: [ChurnflowError, string, string][] = [
    [new StoppedWhileWaiting('the database'), ErrorCodes.STOPPED_WHILE_WAITING, 'stopped while waiting for the database'],
    [new SnapshotDefect('its checksum does not match'), ErrorCodes.PROFILE_SNAPSHOT_DEFECT, 'its checksum does not match'],
    [new PartStopped('the processor', cause), ErrorCodes.PART_STOPPED, 'the processor stopped: broker gone'],
    [new RequestError(400, ApiErrorCodes.INVALID_REQUEST, 'timestamp is invalid', 'timestamp'), ErrorCodes.API_REQUEST_REFUSED, 'timestamp is invalid']
  ]
  for (const [error, code, message] of cases) {
    assert.ok(isChurnflowError(error), error.name)
    assert.equal(error.code, code)
    assert.equal(error.message, message)
    assert.equal(error.name, error.constructor.name)
  }
  assert.equal(new PartStopped('the producer', cause).cause, cause)
  const refused = new RequestError(503, ApiErrorCodes.PROFILE_STORE_UNAVAILABLE, 'down')
  assert.deepEqual([refused.statusCode, refused.error, refused.field, refused.retriable], [503, 'profile_store_unavailable', undefined, true])
  assert.equal(new RequestError(400, ApiErrorCodes.INVALID_JSON, 'x').retriable, false)
})
