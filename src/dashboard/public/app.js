// churnflow's dashboard: plain browser JavaScript, no build step. Every string that came from a
// stream is put on the page as text (textContent, text nodes), never as HTML.
'use strict'

const main = document.getElementById('main')
const charts = []
let current = { view: '', refresh: null, onPrediction: null, onAlert: null }
let timer
/** The newest predictions the live stream brought, newest first (kept across re-renders). */
const recent = []

// ---- DOM helpers: children are nodes or text; attributes are set as properties, never parsed as HTML.
function el (tag, props, ...children) {
  const node = document.createElement(tag)
  for (const [k, v] of Object.entries(props ?? {})) {
    if (v === undefined || v === null || v === false) continue
    if (k === 'class') node.className = v
    else if (k === 'on') for (const [ev, fn] of Object.entries(v)) node.addEventListener(ev, fn)
    else if (k.startsWith('aria-') || k.startsWith('data-') || k === 'role' || k === 'scope' || k === 'for') node.setAttribute(k, String(v))
    else node[k] = v
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue
    node.append(child instanceof Node ? child : document.createTextNode(String(child)))
  }
  return node
}

const fmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 })
const num = v => v === null || v === undefined || Number.isNaN(v) ? '—' : fmt.format(v)
const score = v => v === null || v === undefined ? '—' : Number(v).toFixed(3)
const pct = v => v === null || v === undefined || Number.isNaN(v) ? '—' : `${(v * 100).toFixed(1)}%`
const ms = s => s === null || s === undefined ? '—' : s < 1 ? `${Math.round(s * 1000)} ms` : `${s.toFixed(2)} s`
const time = t => Number.isFinite(t) ? new Date(t).toISOString().replace('T', ' ').slice(0, 19) : '—'
const customerHref = id => `#/customer/${encodeURIComponent(id)}`
const hostOf = url => url.replace(/^https?:\/\//, '')

function band (name) {
  const known = ['low', 'medium', 'high', 'critical'].includes(name)
  return el('span', { class: `band ${known ? name : ''}` }, name || '—')
}

function state (s) {
  const known = ['up', 'down', 'recovering'].includes(s)
  const label = s === 'down' ? 'down (circuit open)' : s === 'recovering' ? 'retrying' : s
  return el('span', { class: `state ${known ? s : ''}` }, label)
}

function reasonsList (reasons) {
  if (!Array.isArray(reasons) || reasons.length === 0) return '—'
  return el('ul', { class: 'reasons' }, reasons.slice(0, 3).map(r => el('li', {},
    typeof r === 'object' && r !== null ? `${r.feature ?? r.reason ?? JSON.stringify(r)}${r.value === undefined ? '' : ` = ${num(r.value)}`}${r.impact === undefined ? '' : ` (${r.impact > 0 ? '+' : ''}${Number(r.impact).toFixed(2)})`}` : String(r))))
}

/**
 * A table with a caption and column headers. Sortable columns have a button in their header
 * (keyboard reachable); the sort is stated with aria-sort, not only by an arrow.
 */
function table (caption, columns, rows, options = {}) {
  const t = el('table', { 'data-table': options.id })
  t.append(el('caption', {}, caption))
  let sortKey = options.sortKey
  let sortDir = options.sortDir ?? 'descending'
  const head = el('tr')
  const body = el('tbody')
  const draw = () => {
    const sorted = [...rows]
    const col = columns.find(c => c.key === sortKey)
    if (col !== undefined) {
      const value = col.sortValue ?? (r => r[col.key])
      sorted.sort((a, b) => {
        const x = value(a); const y = value(b)
        const c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x ?? '').localeCompare(String(y ?? ''))
        return sortDir === 'ascending' ? c : -c
      })
    }
    body.replaceChildren(...(sorted.length === 0
      ? [el('tr', {}, el('td', { colSpan: columns.length, class: 'empty' }, options.empty ?? 'Nothing yet.'))]
      : sorted.map(r => el('tr', {}, columns.map(c => el('td', { class: c.num ? 'num' : '' }, c.render ? c.render(r) : String(r[c.key] ?? '—')))))))
    for (const th of head.children) th.setAttribute('aria-sort', th.dataset.key === sortKey ? sortDir : 'none')
  }
  for (const c of columns) {
    const th = el('th', { scope: 'col', class: c.num ? 'num' : '', 'data-key': c.key })
    if (options.sortable && c.sortable !== false) {
      th.append(el('button', {
        type: 'button',
        on: {
          click: () => {
            sortDir = sortKey === c.key && sortDir === 'descending' ? 'ascending' : 'descending'
            sortKey = c.key
            draw()
          }
        }
      }, c.label))
    } else th.append(c.label)
    head.append(th)
  }
  t.append(el('thead', {}, head), body)
  draw()
  return t
}

function card (label, value, note, id) {
  return el('div', { class: 'card' }, el('div', { class: 'label' }, label), el('div', { class: 'value', id }, value), note ? el('div', { class: 'note' }, note) : null)
}

function panel (title, ...children) {
  return el('section', { class: 'panel', 'aria-label': title }, el('h2', {}, title), ...children)
}

// ---- Charts (uPlot). Each chart has a text alternative: its table or a summary in aria-label.
function chart (container, series, options = {}) {
  const width = Math.max(300, container.clientWidth - 10 || 500)
  const xs = series.x
  if (xs.length === 0) {
    container.append(el('p', { class: 'empty' }, options.empty ?? 'No data yet.'))
    return
  }
  const opts = {
    width,
    height: options.height ?? 200,
    scales: { x: { time: options.time !== false, ...(xs.length === 1 ? { range: (_u, min, max) => [min - 3600, max + 3600] } : {}) }, ...(options.yRange ? { y: { range: options.yRange } } : {}) },
    axes: [{ stroke: '#5b6778', grid: { stroke: '#eef1f5' } }, { stroke: '#5b6778', grid: { stroke: '#eef1f5' } }],
    legend: { show: true },
    series: [{ label: options.xLabel ?? 'time' }, ...series.ys.map((s, i) => ({
      label: s.label,
      stroke: s.color ?? ['#2f5fd0', '#c2410c', '#2e7d4f'][i % 3],
      width: 2,
      fill: s.fill ?? (options.bars ? 'rgba(47, 95, 208, 0.25)' : undefined),
      dash: i === 1 ? [6, 4] : undefined,
      paths: options.bars ? uPlot.paths.bars({ size: [0.8, 60] }) : undefined,
      points: { show: !options.bars && xs.length < 40 }
    }))]
  }
  if (options.bars) opts.scales.x = { time: false, range: (_u, min, max) => [min - 0.5, max + 0.5] }
  if (options.xValues) opts.axes[0].values = (_u, splits) => splits.map(options.xValues)
  const u = new uPlot(opts, [xs, ...series.ys.map(s => s.values)], container)
  u.root.setAttribute('role', 'img')
  u.root.setAttribute('aria-label', options.alt ?? series.ys.map(s => s.label).join(', '))
  charts.push(u)
}

// ---- Data
async function get (path) {
  const response = await fetch(path, { headers: { accept: 'application/json' } })
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`)
  return response.json()
}

function setView (name) {
  for (const a of document.querySelectorAll('.side a')) {
    if (a.dataset.view === name) a.setAttribute('aria-current', 'page')
    else a.removeAttribute('aria-current')
  }
}

function clear () {
  while (charts.length > 0) charts.pop().destroy()
  main.replaceChildren()
}

// ---- Overview
async function overview () {
  const d = await get('/api/overview')
  clear()
  const procs = d.processors
  const stats = procs.reduce((a, p) => { for (const [k, v] of Object.entries(p.stats)) a[k] = (a[k] ?? 0) + v; return a }, {})
  const reachable = procs.filter(p => p.reachable).length
  main.append(
    el('h1', { tabIndex: -1 }, 'Overview'),
    el('p', { class: 'sub' }, `Newest event ${time(d.clock.eventTime)} · newest prediction written ${time(d.clock.predictionTime)} · ${reachable} of ${procs.length} processors answering`),
    el('div', { class: 'cards' },
      card('Events/s processed', num(stats.events_per_s), 'from the processors\' /stats'),
      card('Predictions saved', num(stats.total_predictions_saved ?? stats.predictions_saved), 'this run, all processors'),
      card('Alerts', num(stats.total_alerts ?? stats.alerts)),
      card('Dead-lettered', num(stats.total_dead_lettered ?? stats.dead_lettered)),
      card('Live feed', '0', 'predictions since this page opened', 'overview-live'))
  )
  const grid = el('div', { class: 'grid' })
  main.append(grid)

  const streams = Object.keys(d.streams.totals).map(topic => ({ topic, rate: d.streams.rates[topic], total: d.streams.totals[topic] }))
  grid.append(panel('Events per second, per stream', table('Arrival rate of each input topic, from its end offsets', [
    { key: 'topic', label: 'Stream' },
    { key: 'rate', label: 'Events/s', num: true, render: r => r.rate === undefined ? 'measuring…' : num(r.rate) },
    { key: 'total', label: 'Records in topic', num: true, render: r => num(r.total) }
  ], streams, { empty: 'Kafka not reachable or no input topics yet.' })))

  const ppm = el('div', { class: 'chart' })
  grid.append(panel('Predictions per minute', ppm))
  const hr = el('div', { class: 'chart' })
  grid.append(panel(`High-risk customers per hour (score ≥ ${d.highFrom})`, hr))

  const lag = procs.flatMap(p => p.lag.map(l => ({ ...l, processor: hostOf(p.url) })))
  grid.append(panel('Consumer lag per partition', table('Records behind the end of each partition a processor holds', [
    { key: 'topic', label: 'Topic' }, { key: 'partition', label: 'Partition', num: true }, { key: 'lag', label: 'Lag', num: true, render: r => num(r.lag) }, { key: 'processor', label: 'Processor' }
  ], lag, { empty: 'No processor reports lag.' })))

  grid.append(panel('Sink and scoring latency', table('Since each processor started; percentiles are bucket upper bounds', [
    { key: 'what', label: 'Step' }, { key: 'p50', label: 'p50', num: true, render: r => ms(r.p50) }, { key: 'p95', label: 'p95', num: true, render: r => ms(r.p95) },
    { key: 'mean', label: 'Mean', num: true, render: r => ms(r.mean) }, { key: 'count', label: 'Batches', num: true, render: r => num(r.count) }, { key: 'processor', label: 'Processor' }
  ], procs.flatMap(p => [
    { what: 'SQL sink write', ...p.sink, processor: hostOf(p.url) },
    { what: 'Scoring', ...p.scoring, processor: hostOf(p.url) },
    { what: 'Whole batch', ...p.batch, processor: hostOf(p.url) }
  ]), { empty: 'No processor answers.' })))

  grid.append(panel('Dependencies', table('Each processor\'s dependencies as its /health reports them', [
    { key: 'name', label: 'Dependency', render: r => el('span', {}, r.name, r.error ? el('div', { class: 'note error' }, r.error) : null) }, { key: 'state', label: 'State', render: r => state(r.state) }, { key: 'processor', label: 'Processor' }
  ], procs.flatMap(p => p.reachable ? p.dependencies.map(x => ({ ...x, processor: hostOf(p.url) })) : [{ processor: hostOf(p.url), name: 'ops endpoints', state: 'down', error: p.error }]))))

  const dl = d.deadLetters
  grid.append(panel('Dead letters by error code', table(`Among the newest records of ${dl.following.length === 0 ? 'no dead-letter topic yet' : dl.following.join(', ')}`, [
    { key: 'code', label: 'Error code', render: r => el('span', { class: 'mono' }, r.code) }, { key: 'count', label: 'Records', num: true }
  ], dl.byCode, { empty: 'No dead letters.' })))
  const live = el('section', { class: 'panel wide', 'aria-label': 'Latest predictions' })
  const drawLive = () => live.replaceChildren(el('h2', {}, 'Latest predictions (live)'), table('Pushed as they are stored; newest first', [
    { key: 'predictionTime', label: 'Stored', render: r => time(r.predictionTime) },
    { key: 'customerId', label: 'Customer', render: r => el('a', { href: customerHref(r.customerId) }, r.customerId) },
    { key: 'eventType', label: 'Event' },
    { key: 'score', label: 'Score', num: true, render: r => score(r.score) },
    { key: 'band', label: 'Band', render: r => band(r.band) },
    { key: 'stream', label: 'Stream' }
  ], recent, { id: 'live-predictions', empty: 'Waiting for the next prediction…' }))
  drawLive()
  grid.append(live)
  current.onPrediction = drawLive
  grid.append(el('section', { class: 'panel wide', 'aria-label': 'Latest dead letters' }, el('h2', {}, 'Latest dead letters'), table('Newest first; the value as stored, cut at 300 characters', [
    { key: 'timestamp', label: 'Time', render: r => time(r.timestamp) },
    { key: 'topic', label: 'Topic' },
    { key: 'code', label: 'Code', render: r => el('span', { class: 'mono' }, r.headers['churnflow-error-code'] ?? '(none)') },
    { key: 'reason', label: 'Reason', render: r => r.headers['churnflow-error-message'] ?? '' },
    { key: 'value', label: 'Value', render: r => el('span', { class: 'mono' }, r.value) }
  ], dl.latest, { empty: 'No dead letters.' })))

  const minuteLabel = v => new Date(v * 1000).toISOString().slice(11, 16)
  chart(ppm, { x: d.predictionsPerMinute.map(p => p.t / 1000), ys: [{ label: 'predictions/min', values: d.predictionsPerMinute.map(p => p.v) }] }, { alt: `Predictions per minute over the last hour; latest ${d.predictionsPerMinute.at(-1)?.v ?? 0}`, xValues: minuteLabel })
  chart(hr, { x: d.highRiskOverTime.map(p => p.t / 1000), ys: [{ label: 'high-risk customers', values: d.highRiskOverTime.map(p => p.v), color: '#c2410c' }] }, { alt: 'High-risk customers per hour over two days of event time' })
}

// ---- Churn
const churnFilter = { band: '', segment: '', limit: '50' }

function sourceNote (source) {
  if (source.kind === 'processors') return `Current risk from the processors' state (${source.answered} of ${source.asked} answering), silent customers included.`
  if (source.kind === 'sql') return 'Current risk is each customer\'s latest stored prediction: no processor\'s /customers/at-risk answered.'
  return 'Current risk from the configured source.'
}

const segmentLabel = (segments, name) => segments.find(s => s.name === name)?.label ?? name ?? '—'

async function churn () {
  const params = new URLSearchParams({ limit: churnFilter.limit })
  if (churnFilter.band) params.set('band', churnFilter.band)
  if (churnFilter.segment) params.set('segment', churnFilter.segment)
  const d = await get(`/api/churn?${params}`)
  clear()
  main.append(el('h1', { tabIndex: -1 }, 'Churn'), el('p', { class: 'sub', id: 'at-risk-source', 'data-source': d.source.kind }, `${sourceNote(d.source)} Event time now: ${time(d.clock.eventTime)}.`))
  const grid = el('div', { class: 'grid' })
  main.append(grid)
  const filter = (key, id, first, options) => el('select', { id, on: { change: e => { churnFilter[key] = e.target.value; void churn() } } },
    first === null ? null : el('option', { value: '' }, first), options.map(([value, label]) => el('option', { value, selected: churnFilter[key] === value }, label)))
  const bandSelect = filter('band', 'band-filter', 'All bands', d.bands.map(b => [b.name, b.name]))
  const segmentSelect = filter('segment', 'segment-filter', 'All tenures', d.segments.map(s => [s.name, s.label]))
  const limitSelect = filter('limit', 'limit-filter', null, ['50', '100', '200', '500'].map(n => [n, n]))
  const list = el('section', { class: 'panel wide', 'aria-label': 'At-risk customers' }, el('h2', {}, 'At-risk customers'),
    el('div', { class: 'filters' },
      el('label', { for: 'band-filter' }, 'Band', bandSelect),
      el('label', { for: 'segment-filter' }, 'Segment (tenure since first seen)', segmentSelect),
      el('label', { for: 'limit-filter' }, 'Customers shown', limitSelect)),
    table(`${d.atRisk.length} customers ranked by current risk; choose a column header to sort`, [
      { key: 'customerId', label: 'Customer', render: r => el('a', { href: customerHref(r.customerId), 'data-customer': r.customerId }, r.customerId) },
      { key: 'score', label: 'Score', num: true, render: r => score(r.score) },
      { key: 'band', label: 'Band', render: r => band(r.band), sortValue: r => r.score },
      { key: 'changeSinceLastWeek', label: 'Change since last week', num: true, sortValue: r => r.changeSinceLastWeek ?? -9, render: r => r.changeSinceLastWeek === null ? 'new' : el('span', { class: r.changeSinceLastWeek > 0 ? 'up-arrow' : 'down-arrow' }, `${r.changeSinceLastWeek > 0 ? '▲ +' : r.changeSinceLastWeek < 0 ? '▼ ' : ''}${r.changeSinceLastWeek.toFixed(3)}`) },
      { key: 'reasons', label: 'Top reasons', sortable: false, render: r => reasonsList(r.reasons) },
      { key: 'lastSeen', label: 'Last seen', render: r => time(r.lastSeen) },
      { key: 'daysSilent', label: 'Days of silence', num: true, sortValue: r => r.daysSilent ?? -1, render: r => num(r.daysSilent) },
      { key: 'trigger', label: 'Scored on', render: r => el('span', { class: `trigger ${r.trigger === 'inactivity' ? 'inactivity' : ''}` }, r.trigger === 'inactivity' ? 'inactivity' : 'event') },
      { key: 'segment', label: 'Tenure', sortValue: r => r.tenureDays ?? -1, render: r => el('span', { 'data-segment': r.segment ?? '' }, segmentLabel(d.segments, r.segment), r.tenureDays === null ? '' : el('span', { class: 'note' }, ` (${num(r.tenureDays)} d)`)) }
    ], d.atRisk, { sortable: true, sortKey: 'score', id: 'at-risk', empty: 'No customer in this band and segment.' }))
  grid.append(list)
  const dist = el('div', { class: 'chart' })
  grid.append(panel(`Score distribution (latest ${num(d.distribution.window)} predictions)`, dist,
    el('details', {}, el('summary', {}, 'The counts'), table('Predictions per score range', [{ key: 'range', label: 'Score' }, { key: 'n', label: 'Predictions', num: true, render: r => num(r.n) }],
      d.distribution.bins.map((n, i) => ({ range: `${(i / 10).toFixed(1)}–${((i + 1) / 10).toFixed(1)}`, n }))))))
  chart(dist, { x: d.distribution.bins.map((_n, i) => i), ys: [{ label: 'predictions', values: d.distribution.bins }] },
    { bars: true, time: false, xLabel: 'score', xValues: v => (v / 10).toFixed(1), alt: 'Histogram of churn scores; the table below gives the counts' })
}

// ---- Customer
const isoTime = iso => iso === null || iso === undefined ? '—' : time(Date.parse(iso))

function currentCards (d) {
  const c = d.current
  const r = c.risk
  return el('div', { class: 'cards', id: 'current-risk', 'data-trigger': r?.trigger ?? '' },
    card('Current score', score(r?.churn_score), r === null ? 'not scored yet' : `as of ${isoTime(r.scored_at)}, from the processor's state`),
    el('div', { class: 'card' }, el('div', { class: 'label' }, 'Band'), el('div', { class: 'value' }, r === null ? '—' : band(r.risk_band))),
    card('Scored on', r === null ? '—' : r.trigger === 'inactivity' ? 'inactivity' : 'event', r?.trigger === 'inactivity' ? 'a silence re-score: no activity since' : 'the customer\'s latest event'),
    card('Days of silence', num(r?.days_silent), `last seen ${isoTime(c.profile.last_seen)}`),
    card('Tenure', num(r?.tenure_days), `days since first seen ${isoTime(c.profile.first_seen)}`),
    card('Alerts', num(d.alerts.length), c.alert.high_risk ? 'in the high-risk state now' : 'in the dashboard\'s alert window'))
}

function summaryCards (d) {
  const s = d.summary
  return el('div', { class: 'cards' },
    card('Current score', score(s.score), 'the latest stored prediction'),
    el('div', { class: 'card' }, el('div', { class: 'label' }, 'Band'), el('div', { class: 'value' }, band(s.band))),
    card('Last event', el('span', { class: 'small' }, time(s.lastEvent)), `${Math.max(0, Math.floor((d.clock.eventTime - s.lastEvent) / 86400000))} days before the newest event`),
    card('Predictions', num(s.predictions), `since ${time(s.firstInWindow)}`),
    card('Alerts', num(d.alerts.length), 'in the dashboard\'s alert window'))
}

function profileList (d) {
  const s = d.summary
  const p = d.current?.profile
  const rows = []
  if (s) rows.push(['Source stream', s.stream], ['Events by type (stored)', Object.entries(s.eventTypes).map(([k, v]) => `${k} ${v}`).join(', ')])
  if (p) {
    rows.push(['First seen', isoTime(p.first_seen)], ['Last seen', isoTime(p.last_seen)], ['Events', num(p.events)], ['Orders', num(p.orders)],
      ['Total spent', num(p.total_spent)], ['Page views', num(p.page_views)], ['Support tickets', num(p.support_tickets)], ['Payment failures', num(p.payment_failures)],
      ['Processor', hostOf(d.current.processor)])
  }
  rows.push(['Model', d.current?.risk?.model_version || d.latestScored?.modelVersion || '—'])
  return el('dl', { class: 'kv' }, rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]))
}

async function customer (id) {
  const d = await get(`/api/customers/${encodeURIComponent(id)}`)
  clear()
  main.append(el('h1', { tabIndex: -1, id: 'customer-title' }, 'Customer ', el('span', { class: 'mono', id: 'customer-id' }, d.customerId)))
  if (!d.found) {
    main.append(el('p', { class: 'empty' }, 'No prediction is stored for this customer, and no processor holds them.'))
    return
  }
  main.append(d.current ? currentCards(d) : summaryCards(d))
  const grid = el('div', { class: 'grid' })
  main.append(grid)
  const sc = el('div', { class: 'chart', id: 'score-chart' })
  grid.append(el('section', { class: 'panel wide', 'aria-label': 'Score over time' }, el('h2', {}, 'Score over time'), sc))
  grid.append(panel('Profile', profileList(d)))
  grid.append(panel('Reasons (current score)', reasonsList(d.current?.risk?.reasons ?? d.latestScored?.reasons ?? d.alerts[0]?.alert?.reasons)))
  grid.append(panel('Alerts', table('Alerts for this customer, newest first', [
    { key: 'timestamp', label: 'Time', render: r => time(r.timestamp) },
    { key: 'type', label: 'Why', render: r => r.alert ? `${r.alert.alert_type ?? ''} on ${r.alert.event_type ?? ''}` : el('span', { class: 'mono' }, r.raw) },
    { key: 'score', label: 'Score', num: true, render: r => score(r.alert?.churn_score) }
  ], d.alerts, { empty: 'No alert in the window the dashboard keeps.' })))
  grid.append(el('section', { class: 'panel wide', 'aria-label': 'Recent events' }, el('h2', {}, 'Recent events and their scores'), table('Newest first; "silence 7d" is an inactivity check: a re-score after 7 days with no activity', [
    { key: 'eventTime', label: 'Event time', render: r => time(r.eventTime) },
    { key: 'eventType', label: 'Event', render: r => r.eventType === 'inactivity_check' ? el('em', { class: 'silence', 'data-event': 'inactivity_check' }, `silence ${r.silenceStep ?? ''}`.trim()) : r.eventType },
    { key: 'score', label: 'Score', num: true, render: r => score(r.score) },
    { key: 'band', label: 'Band', render: r => band(r.band) },
    { key: 'metadata', label: 'Metadata', render: r => el('span', { class: 'mono' }, (r.metadata ?? '').slice(0, 160)) }
  ], d.predictions.slice(0, 100), { id: 'recent-events', empty: 'No stored prediction.' })))
  const points = [...d.predictions].reverse()
  chart(sc, { x: points.map(p => p.eventTime / 1000), ys: [{ label: 'churn score', values: points.map(p => p.score) }] }, { height: 240, yRange: [0, 1], alt: `Churn score over time for this customer, ${points.length} predictions, latest ${score(points.at(-1)?.score)}` })
}

// ---- Alerts
function alertRow (a) {
  const x = a.alert ?? {}
  return {
    timestamp: a.timestamp,
    customer: String(x.customer_id ?? a.key),
    kind: x.alert_type ?? '?',
    why: x.alert_type === 'critical_event' ? `critical event: ${x.event_type ?? ''}` : x.alert_type === 'high_risk' ? `score ${score(x.churn_score)} crossed into high risk on ${x.event_type ?? ''}` : String(x.reason ?? x.alert_type ?? a.raw),
    band: x.risk_band ?? '',
    score: x.churn_score ?? null,
    reasons: x.reasons
  }
}

async function alerts () {
  const d = await get('/api/alerts')
  clear()
  main.append(el('h1', { tabIndex: -1 }, 'Alerts'), el('p', { class: 'sub' }, 'Live from the alerts topic; new alerts appear at the top.'))
  const rows = d.alerts.map(alertRow)
  const holder = el('section', { class: 'panel wide', 'aria-label': 'Alert feed' }, el('h2', {}, 'Alert feed'))
  const draw = () => holder.replaceChildren(el('h2', {}, 'Alert feed'), table(`${rows.length} newest alerts`, [
    { key: 'timestamp', label: 'Time', render: r => time(r.timestamp) },
    { key: 'customer', label: 'Customer', render: r => el('a', { href: customerHref(r.customer) }, r.customer) },
    { key: 'why', label: 'Why it fired' },
    { key: 'band', label: 'Band', render: r => r.band ? band(r.band) : '—' },
    { key: 'score', label: 'Score', num: true, render: r => score(r.score) },
    { key: 'reasons', label: 'Top reasons', render: r => reasonsList(r.reasons) }
  ], rows, { id: 'alerts', empty: 'No alert yet.' }))
  draw()
  main.append(holder)
  current.onAlert = a => { rows.unshift(alertRow(a)); if (rows.length > 200) rows.pop(); draw() }
}

// ---- Fraud
async function fraud () {
  const d = await get('/api/fraud')
  clear()
  main.append(el('h1', { tabIndex: -1 }, 'Fraud'))
  if (!d.present) {
    main.append(el('p', { class: 'empty', id: 'no-fraud' }, 'No fraud pipeline data: the transactions and predictions tables are missing or empty.'))
    return
  }
  const total = d.fraudRate.reduce((a, r) => a + r.total, 0)
  const flagged = d.fraudRate.reduce((a, r) => a + r.fraud, 0)
  main.append(el('div', { class: 'cards' }, card('Transactions/s', num(d.transactionsPerSecond), 'over the last minute'), card('Fraud rate', pct(total === 0 ? null : flagged / total), 'last 24 hours'), card('Flagged', num(flagged), 'last 24 hours')))
  const grid = el('div', { class: 'grid' })
  main.append(grid)
  const rc = el('div', { class: 'chart' })
  grid.append(el('section', { class: 'panel wide', 'aria-label': 'Fraud rate over time' }, el('h2', {}, 'Fraud rate per hour'), rc))
  for (const [key, title] of [['merchant_category', 'By merchant category'], ['country', 'By country'], ['channel', 'By channel']]) {
    grid.append(panel(title, table('Last 24 hours, most fraud first', [
      { key: 'key', label: title.replace('By ', '') }, { key: 'total', label: 'Transactions', num: true }, { key: 'fraud', label: 'Flagged', num: true },
      { key: 'rate', label: 'Rate', num: true, render: r => pct(r.total === 0 ? null : r.fraud / r.total) }
    ], d.breakdown[key])))
  }
  grid.append(el('section', { class: 'panel wide', 'aria-label': 'Flagged transactions' }, el('h2', {}, 'Flagged transactions'), table('Newest first', [
    { key: 'time', label: 'Time', render: r => time(r.time) }, { key: 'transactionId', label: 'Transaction', render: r => el('span', { class: 'mono' }, r.transactionId) },
    { key: 'accountId', label: 'Account' }, { key: 'amount', label: 'Amount', num: true, render: r => `${num(r.amount)} ${r.currency}` },
    { key: 'merchantCategory', label: 'Merchant category' }, { key: 'country', label: 'Country' }, { key: 'channel', label: 'Channel' },
    { key: 'score', label: 'Score', num: true, render: r => score(r.score) },
    { key: 'reasons', label: 'Reasons', render: r => { try { return reasonsList(JSON.parse(r.reasons)) } catch { return r.reasons } } }
  ], d.flagged)))
  chart(rc, { x: d.fraudRate.map(r => r.t / 1000), ys: [{ label: 'fraud rate', values: d.fraudRate.map(r => r.total === 0 ? 0 : r.fraud / r.total), color: '#b42318' }] }, { alt: 'Share of transactions flagged as fraud, per hour' })
}

// ---- Model
async function model () {
  const d = await get('/api/model')
  clear()
  main.append(el('h1', { tabIndex: -1 }, 'Model'))
  if (d.error) {
    main.append(el('p', { class: 'error' }, `Cannot read the model at ${d.path}: ${d.error}`))
    return
  }
  const m = d.test?.model ?? {}
  const b = d.test?.baseline ?? {}
  main.append(el('p', { class: 'sub' }, `Artifact ${d.path}`), el('div', { class: 'cards' },
    card('Version', el('span', { class: 'small mono' }, d.version),
      !d.serving ? 'no prediction record seen yet' : d.serving === d.version ? 'serving: the latest predictions carry it' : `the latest predictions carry ${d.serving}`),
    card('ROC-AUC', score(m.roc_auc), `baseline ${score(b.roc_auc)}`),
    card('PR-AUC', score(m.pr_auc), `baseline ${score(b.pr_auc)}`),
    card('Log loss', score(m.log_loss), `baseline ${score(b.log_loss)}`),
    card('Horizon', `${d.horizonDays} days`, `${d.featureCount} features`)))
  const grid = el('div', { class: 'grid' })
  main.append(grid)
  grid.append(panel('Training summary', el('dl', { class: 'kv' }, Object.entries(d.training ?? {}).flatMap(([k, v]) => [el('dt', {}, k.replaceAll('_', ' ')), el('dd', {}, typeof v === 'number' ? num(v) : String(v))]))))
  grid.append(panel('Top features', table('Importance in the trained model', [
    { key: 'feature', label: 'Feature', render: r => el('span', { class: 'mono' }, r.feature) }, { key: 'importance', label: 'Importance', num: true, render: r => Number(r.importance).toFixed(4) }
  ], d.importance)))
  const cal = m.calibration ?? []
  grid.append(panel('Calibration', cal.length === 0 ? el('p', { class: 'empty' }, 'This artifact has no calibration table.') : table('Test rows per score range: predicted against observed churn', [
    { key: 'range', label: 'Score', render: r => `${r.lower.toFixed(1)}–${r.upper.toFixed(1)}` }, { key: 'count', label: 'Rows', num: true, render: r => num(r.count) },
    { key: 'meanPredicted', label: 'Predicted', num: true, render: r => score(r.meanPredicted) }, { key: 'observedRate', label: 'Observed', num: true, render: r => score(r.observedRate) }
  ], cal)))
  grid.append(panel('Risk bands', table('A score at or above the start is in the band', [{ key: 'name', label: 'Band', render: r => band(r.name) }, { key: 'from', label: 'From', num: true }], d.bands ?? [])))
}

// ---- Routing, refresh and the live stream
const views = { overview, churn, alerts, fraud, model }

async function route () {
  const hash = location.hash || '#/overview'
  const [, name, arg] = /^#\/([a-z]+)(?:\/(.*))?$/.exec(hash) ?? []
  clearInterval(timer)
  current = { view: name, refresh: null, onPrediction: null, onAlert: null }
  setView(name === 'customer' ? '' : name)
  const render = name === 'customer' && arg !== undefined ? () => customer(decodeURIComponent(arg)) : views[name] ?? overview
  try {
    await render()
    main.querySelector('h1')?.focus()
  } catch (error) {
    clear()
    main.append(el('h1', {}, 'Cannot load this view'), el('p', { class: 'error' }, String(error.message ?? error)))
  }
  // Views whose data is not pushed are read again every few seconds.
  if (name === 'overview' || name === 'fraud') timer = setInterval(() => { if (!document.hidden) void render() }, 5000)
}

let liveCount = 0
let alertCount = 0
function connect () {
  const source = new EventSource('/api/live')
  const dot = document.getElementById('live-dot')
  const stateText = document.getElementById('live-state')
  source.addEventListener('open', () => { dot.className = 'dot on'; stateText.textContent = 'live' })
  source.addEventListener('error', () => { dot.className = 'dot off'; stateText.textContent = 'reconnecting…' })
  source.addEventListener('predictions', e => {
    const d = JSON.parse(e.data)
    liveCount += d.added
    document.getElementById('live-count').textContent = fmt.format(liveCount)
    const o = document.getElementById('overview-live')
    if (o) { o.textContent = fmt.format(liveCount); o.classList.remove('flash'); void o.offsetWidth; o.classList.add('flash') }
    for (const row of d.rows) recent.unshift(row)
    recent.splice(15)
    current.onPrediction?.(d)
  })
  source.addEventListener('alert', e => {
    alertCount++
    document.getElementById('live-alerts').textContent = fmt.format(alertCount)
    current.onAlert?.(JSON.parse(e.data))
  })
}

document.getElementById('find').addEventListener('submit', e => {
  e.preventDefault()
  const id = document.getElementById('find-id').value.trim()
  if (id) location.hash = customerHref(id)
})
window.addEventListener('hashchange', () => { void route() })
window.addEventListener('DOMContentLoaded', () => { connect(); void route() })
