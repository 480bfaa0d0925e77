// Imported first by a benchmark that runs a processor in its own process: restarts it in place
// with the heap flags and allocator setting `churnflow process` runs with (bin/heap.js), so the
// figures are the processor's and not those of V8's defaults. The modules imported after this
// one are parsed but not run before the restart.
import { allocatorEnv, heapFlags } from '../bin/heap.js'

const flags = heapFlags(['process'], process.env.NODE_OPTIONS, process.execArgv)
const env = allocatorEnv(['process'], process.env)
if ((flags.length > 0 || Object.keys(env).length > 0) && typeof process.execve === 'function') {
  process.execve(process.execPath, [process.execPath, ...flags, ...process.execArgv, ...process.argv.slice(1)], { ...process.env, ...env })
}
