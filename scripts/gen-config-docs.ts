// Regenerates .env.example and the README configuration table from src/config/schema.ts.
import { readFile, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { renderConfigTable, renderEnvExample } from '../src/config/index.ts'

const root = fileURLToPath(new URL('..', import.meta.url))
const start = '<!-- config-table:start -->\n'
const end = '<!-- config-table:end -->'

await writeFile(`${root}.env.example`, renderEnvExample())
const readme = await readFile(`${root}README.md`, 'utf8')
const from = readme.indexOf(start)
const to = readme.indexOf(end)
if (from < 0 || to < from) throw new Error('README.md lacks the config-table markers')
await writeFile(`${root}README.md`, readme.slice(0, from + start.length) + renderConfigTable() + readme.slice(to))
process.stdout.write('wrote .env.example and the README configuration table\n')
