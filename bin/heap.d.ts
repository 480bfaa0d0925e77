/** See heap.js. */
export function heapFlags (args: readonly string[], nodeOptions: string | undefined, execArgv: readonly string[]): string[]
/** See heap.js. */
export function allocatorEnv (args: readonly string[], env: NodeJS.ProcessEnv): Record<string, string>
/** See heap.js. */
export function restartForProcessing (args: readonly string[]): void
