/** See heap.js. */
export function heapFlags (args: readonly string[], nodeOptions: string | undefined, execArgv: readonly string[]): string[]
