// Plain JavaScript, like churnflow.js, which runs it before the TypeScript sources load.

/** The commands that run a processor: they hold batches in flight at tens of thousands of events a second. */
const PROCESSING_COMMANDS = new Set(['process', 'up'])

/**
 * V8 flags for a processing command's heap, or none. With its defaults V8 lets the old space grow
 * to four times what is live before collecting it and promotes nearly every record a batch holds
 * (a 16 MB young generation fills several times while a batch is in flight): a processor with
 * 100 MB live peaked at 750 MB RSS. A 32 MB young generation lets most of a batch die young, and
 * a 1 GB old-space limit makes V8 grow the old space by less than 2x before a collection: the
 * same drain peaked at about 430 MB, for about 10% less throughput (more old-space collections).
 * The limit leaves room for millions of customers in the in-process store. A flag of the user's
 * own (NODE_OPTIONS or the command line) wins: NODE_OPTIONS=--max-old-space-size=8192 trades the
 * memory back for the speed.
 * @param {readonly string[]} args the command line after the script
 * @param {string | undefined} nodeOptions NODE_OPTIONS
 * @param {readonly string[]} execArgv Node's own flags
 * @returns {string[]}
 */
export function heapFlags (args, nodeOptions, execArgv) {
  if (!PROCESSING_COMMANDS.has(args[0] ?? '')) return []
  const told = /--max[-_](old|semi)[-_]space[-_]size|--max[-_]heap[-_]size/
  if (told.test(nodeOptions ?? '') || execArgv.some(flag => told.test(flag))) return []
  return ['--max-old-space-size=1024', '--max-semi-space-size=32']
}
