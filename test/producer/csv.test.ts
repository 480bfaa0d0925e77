import assert from 'node:assert/strict'
import { test } from 'node:test'
import { CsvRows } from '../../src/producer/index.ts'

test('CSV rows: quotes, doubled quotes, commas and newlines inside quotes, CRLF', () => {
  const rows = new CsvRows()
  assert.deepEqual(rows.push('a,b,c'), ['a', 'b', 'c'])
  assert.deepEqual(rows.push('"x, y","say ""hi""",\r'), ['x, y', 'say "hi"', ''])
  assert.equal(rows.push('"two'), undefined)
  assert.ok(rows.unterminated)
  assert.deepEqual(rows.push('lines",z'), ['two\nlines', 'z'])
  assert.ok(!rows.unterminated)
  assert.deepEqual(rows.push(''), [''])
})
