// Imported first by a benchmark that runs a processor in its own process: restarts it in place
// with the heap flags and allocator setting `churnflow process` runs with (bin/heap.js), so the
// figures are the processor's and not those of V8's defaults. The modules imported after this
// one are parsed but not run before the restart.
import { restartForProcessing } from '../bin/heap.js'

restartForProcessing(['process'])
