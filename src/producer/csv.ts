/**
 * Splits CSV text (RFC 4180: quoted fields, "" inside quotes, commas and newlines within quotes)
 * into rows, fed line by line. `push` returns the completed row, or undefined while a quoted field
 * continues on the next line.
 */
export class CsvRows {
  #pending = ''

  push (line: string): string[] | undefined {
    const text = this.#pending === '' ? line : `${this.#pending}\n${line}`
    const fields: string[] = []
    let field = ''
    let quoted = false
    for (let i = 0; i < text.length; i++) {
      const ch = text[i]
      if (quoted) {
        if (ch === '"') {
          if (text[i + 1] === '"') {
            field += '"'
            i++
          } else {
            quoted = false
          }
        } else {
          field += ch
        }
      } else if (ch === '"' && field === '') {
        quoted = true
      } else if (ch === ',') {
        fields.push(field)
        field = ''
      } else if (ch !== '\r' || i !== text.length - 1) {
        field += ch
      }
    }
    if (quoted) {
      this.#pending = text
      return undefined
    }
    this.#pending = ''
    fields.push(field)
    return fields
  }

  /** True when the input ended inside a quoted field. */
  get unterminated (): boolean {
    return this.#pending !== ''
  }
}
