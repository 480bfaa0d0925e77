import { dashboardOptions, startDashboard } from '../dashboard/index.ts'
import { stopSignal } from '../util/signals.ts'
import type { Command } from './command.ts'

export const dashboardCommand: Command = {
  name: 'dashboard',
  summary: 'serve the live dashboard (pipeline health, at-risk customers, alerts, fraud, model) for processors that run elsewhere',
  usage: 'churnflow dashboard [--dashboard-host 127.0.0.1] [--dashboard-port 8080] [--ops-url URL[,URL...]] [--database-url URL] [--broker HOST:PORT]',
  help: [
    'Reads the SQL database (churn_predictions, and the fraud tables when present), Kafka (the alerts topic, the',
    '<topic>-failed dead-letter topics, the predictions topic for reasons) and the processors\' ops endpoints',
    '(OPS_URLS, default http://127.0.0.1:3000). Read-only: it answers GET only and its database sessions are read-only;',
    'at start it warns of any index its queries need that the database lacks (docs/dashboard.md lists them;',
    '`churnflow db migrate` adds them).',
    'It listens on 127.0.0.1 unless --dashboard-host says otherwise; any other address needs DASHBOARD_KEY, which the',
    'browser asks for as the basic-auth password (user DASHBOARD_USER, default churnflow).'
  ].join('\n'),
  async run ({ config, log, out }) {
    const dlog = log.child({ component: 'dashboard' })
    const { app, url } = await startDashboard(dashboardOptions(config, dlog), config.dashboardHost, config.dashboardPort)
    out(`Dashboard:    ${url}`)
    dlog.info(`Dashboard on ${url} (ops: ${config.opsUrls.join(', ')}); Ctrl+C stops it`)
    await stopSignal()
    await app.close()
    dlog.info('Dashboard stopped')
    return 0
  }
}
