// Imported first by bench:fraud, which runs the fraud pipeline in its own process: restarts it in
// place with the heap flags and allocator setting `churnflow process --streams transactions` runs
// with (bin/heap.js), as processor-heap.ts does for the churn processor's benchmarks.
import { restartForProcessing } from '../bin/heap.js'

restartForProcessing(['process', '--streams', 'transactions'])
