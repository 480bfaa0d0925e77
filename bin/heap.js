// Plain JavaScript, like churnflow.js, which runs it before the TypeScript sources load.

/** The commands that run a processor: they hold batches in flight at tens of thousands of events a second. */
const PROCESSING_COMMANDS = new Set(['process', 'up'])

/**
 * The heap of the fraud pipeline (`process --streams transactions`). Its state is small (an
 * account is a few hundred bytes) but each transaction makes about 12 KB of garbage, and a batch's
 * objects outlive several 16 MB young generations, so the churn processor's flags below send them
 * all through the old space: on 300k drains the process spent 43-53 µs of CPU a transaction with
 * them and 33-41 with these, for a peak RSS of 581-584 MB instead of 432-449 (bench:fraud case 1,
 * alternating runs). The old space's limit is about V8's own on a machine of 16 GB or more
 * (4,288 MB on this 24 GB one).
 */
const FRAUD_FLAGS = ['--max-old-space-size=4096', '--max-semi-space-size=64']

/** The heap of every other processing command: the churn processor's memory target (below). */
const PROCESSOR_FLAGS = ['--max-old-space-size=1024', '--max-semi-space-size=16']

/**
 * The value of `--streams` on a command line, if it has one.
 * @param {readonly string[]} args the command line after the script
 * @returns {string | undefined}
 */
function streamsFlag (args) {
  for (let i = 1; i < args.length; i++) {
    const arg = args[i] ?? ''
    if (arg === '--streams') return args[i + 1]
    if (arg.startsWith('--streams=')) return arg.slice('--streams='.length)
  }
  return undefined
}

/**
 * V8 flags for a processing command's heap, or none. With its defaults V8 lets the old space grow
 * to four times what is live before collecting it and promotes nearly every record a batch holds:
 * a processor with 100 MB live peaked at 750 MB RSS. A 1 GB old-space limit makes V8 grow the old
 * space by less than 2x before a collection, and a 16 MB young generation (semi-space) keeps what
 * it commits small: a 5-million-event backlog drained at BATCH_SIZE 5000 peaked at 436 MB with a
 * 32 MB one and 403 MB with 16 MB (and the allocator setting below), at the same speed within the
 * noise (23.8k against 24.3k events/s). The limit leaves room for millions of customers in the
 * in-process store. A flag of the user's own (NODE_OPTIONS or the command line) wins:
 * NODE_OPTIONS=--max-old-space-size=8192 trades the memory back for some speed. The fraud
 * pipeline has its own (`FRAUD_FLAGS`).
 * @param {readonly string[]} args the command line after the script
 * @param {string | undefined} nodeOptions NODE_OPTIONS
 * @param {readonly string[]} execArgv Node's own flags
 * @returns {string[]}
 */
export function heapFlags (args, nodeOptions, execArgv) {
  if (!PROCESSING_COMMANDS.has(args[0] ?? '')) return []
  const told = /--max[-_](old|semi)[-_]space[-_]size|--max[-_]heap[-_]size/
  if (told.test(nodeOptions ?? '') || execArgv.some(flag => told.test(flag))) return []
  return args[0] === 'process' && streamsFlag(args) === 'transactions' ? FRAUD_FLAGS : PROCESSOR_FLAGS
}

/**
 * Environment for a processing command's memory allocator, or none. glibc's malloc raises its
 * mmap threshold as large blocks are freed (fetch responses, Produce requests, LOAD DATA text are
 * megabytes), after which such blocks come from the main heap and the freed ones stay in the
 * process. A fixed 128 KB threshold sends them back to the system: the 300k-event drains' peak
 * RSS went from 411-425 MB to 398-404 MB, the throughput within the noise. Other C libraries
 * ignore the variable; one the user set wins.
 * @param {readonly string[]} args the command line after the script
 * @param {NodeJS.ProcessEnv} env the environment
 * @returns {Record<string, string>}
 */
export function allocatorEnv (args, env) {
  if (!PROCESSING_COMMANDS.has(args[0] ?? '')) return {}
  if (env.MALLOC_MMAP_THRESHOLD_ !== undefined) return {}
  return { MALLOC_MMAP_THRESHOLD_: '131072' }
}

/**
 * Restarts this process in place (same pid, so signals and kill -9 reach it) with a processing
 * command's heap flags and allocator setting, when `args` is one and they are not all in force
 * yet; otherwise returns. Without `process.execve` it carries on as it is.
 * @param {readonly string[]} args the command line after the script (a benchmark passes ['process'])
 * @returns {void}
 */
export function restartForProcessing (args) {
  const flags = heapFlags(args, process.env.NODE_OPTIONS, process.execArgv)
  const env = allocatorEnv(args, process.env)
  if ((flags.length > 0 || Object.keys(env).length > 0) && typeof process.execve === 'function') {
    process.execve(process.execPath, [process.execPath, ...flags, ...process.execArgv, ...process.argv.slice(1)], { ...process.env, ...env })
  }
}
