import { migrate, migrationStatus, openPredictionStore, sqlTarget, TableStates, targetName, type IndexSpec, type PredictionStore, type SqlConnection, type TableState } from '../sql/index.ts'
import type { Command } from './command.ts'
import { usage } from './flags.ts'

const actions = ['migrate', 'status'] as const
type Action = (typeof actions)[number]

const isAction = (value: string): value is Action => (actions as readonly string[]).includes(value)

export const dbCommand: Command = {
  name: 'db',
  summary: 'bring the SQL tables up to date (the fraud tables\' migrations, churn_predictions\' indexes), or show what is pending',
  usage: 'churnflow db migrate|status',
  help: [
    'migrate  applies the migrations not yet applied, in order, under the migration lock, so it is',
    '         safe beside a starting pipeline or another migrate; then creates churn_predictions, or',
    '         adds to an existing one the key and indexes it lacks; prints what it did',
    'status   lists every migration and when it was applied, or "pending", and what',
    '         churn_predictions lacks; changes nothing',
    '',
    'The database is the one the churn predictions use: DATABASE_URL (mysql://, mariadb://,',
    'postgres://, sqlite:), else MySQL at DB_HOST, else SQLite in the state directory. Pipelines',
    'migrate when they start unless DB_MIGRATE=false; the churn processor brings churn_predictions',
    'up to date when it starts. On a large PostgreSQL table, writes wait while an index builds.'
  ].join('\n'),
  async run ({ positionals, config, out }) {
    const action = positionals[0] ?? 'status'
    if (!isAction(action) || positionals.length > 1) throw usage(`unknown db action "${positionals.join(' ')}": expected migrate or status`)
    const name = targetName(sqlTarget(config))
    if (action === 'migrate') {
      // No log: the lines below are the result, and a log would say each twice.
      const applied = await migrate(config)
      for (const migration of applied) out(`applied ${migration}`)
      out(`${name}: ${applied.length === 0 ? 'up to date, nothing to apply' : `${applied.length} applied, up to date`}`)
      for (const line of await ensureChurnTable(config)) out(line)
      return 0
    }
    const migrations = await migrationStatus(config)
    const width = Math.max(...migrations.map(m => m.name.length))
    out(`${name}:`)
    for (const m of migrations) out(`  ${m.name.padEnd(width)}  ${m.executedAt === undefined ? 'pending' : `applied ${m.executedAt.toISOString()}`}`)
    const pending = migrations.filter(m => m.executedAt === undefined).length
    out(pending === 0 ? 'up to date' : `${pending} pending: run churnflow db migrate`)
    out(await churnTableStatus(config))
    return 0
  }
}

const tableStateSays: Readonly<Record<TableState, string>> = {
  [TableStates.MISSING]: 'missing (created by churnflow db migrate or when a processor starts)',
  [TableStates.NEEDS_KEY]: 'lacks the unique key on the Kafka coordinates (added by churnflow db migrate or when a processor starts)',
  [TableStates.READY]: 'ready'
}

/** churn_predictions as the processor would find it at start: its state and the indexes it lacks. */
async function lookAt (store: PredictionStore): Promise<{ state: TableState, missing: IndexSpec[] }> {
  return { state: await store.tableState(), missing: await store.missingIndexes() }
}

/** What `status` says of churn_predictions. */
async function churnTableStatus (config: SqlConnection): Promise<string> {
  await using store = openPredictionStore(config)
  const { state, missing } = await lookAt(store)
  const indexes = missing.length === 0 ? '' : `; ${missing.length} index(es) missing (${missing.map(i => i.name).join(', ')}): run churnflow db migrate`
  return `${store.table}: ${tableStateSays[state]}${indexes}`
}

/** What `migrate` does to churn_predictions, as the processor does at start, in lines to print. */
async function ensureChurnTable (config: SqlConnection): Promise<string[]> {
  await using store = openPredictionStore(config)
  const { state, missing } = await lookAt(store)
  await store.ensureTable()
  if (state === TableStates.MISSING) return [`${store.table}: created`]
  return [
    ...(state === TableStates.NEEDS_KEY ? [`${store.table}: added the unique key on the Kafka coordinates`] : []),
    ...missing.map(i => `${store.table}: added the index ${i.name} (${i.columns.join(', ')})`),
    ...(state === TableStates.READY && missing.length === 0 ? [`${store.table}: up to date`] : [])
  ]
}
