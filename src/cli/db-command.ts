import { migrate, migrationStatus, sqlTarget, targetName } from '../sql/index.ts'
import type { Command } from './command.ts'
import { usage } from './flags.ts'

const actions = ['migrate', 'status'] as const
type Action = (typeof actions)[number]

const isAction = (value: string): value is Action => (actions as readonly string[]).includes(value)

export const dbCommand: Command = {
  name: 'db',
  summary: 'apply the SQL migrations (the fraud tables), or show which are applied',
  usage: 'churnflow db migrate|status',
  help: [
    'migrate  applies the migrations not yet applied, in order, under the migration lock, so it is',
    '         safe beside a starting pipeline or another migrate; prints what it applied',
    'status   lists every migration and when it was applied, or "pending"; changes nothing',
    '',
    'The database is the one the churn predictions use: DATABASE_URL (mysql://, mariadb://,',
    'postgres://, sqlite:), else MySQL at DB_HOST, else SQLite in the state directory. Pipelines',
    'migrate when they start unless DB_MIGRATE=false.'
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
      return 0
    }
    const migrations = await migrationStatus(config)
    const width = Math.max(...migrations.map(m => m.name.length))
    out(`${name}:`)
    for (const m of migrations) out(`  ${m.name.padEnd(width)}  ${m.executedAt === undefined ? 'pending' : `applied ${m.executedAt.toISOString()}`}`)
    const pending = migrations.filter(m => m.executedAt === undefined).length
    out(pending === 0 ? 'up to date' : `${pending} pending: run churnflow db migrate`)
    return 0
  }
}
