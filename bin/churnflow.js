#!/usr/bin/env node
// Plain JavaScript on purpose: this file must run, and explain itself, on a Node.js too old to
// strip TypeScript types. The sources run as TypeScript through Node's type stripping.
const [major, minor] = process.versions.node.split('.').map(Number)
if (!(major >= 24 || (major === 22 && minor >= 22) || (major === 23 && minor >= 6))) {
  process.stderr.write(
    `churnflow needs Node.js 24 LTS (or 22.22+); this is ${process.version} at ${process.execPath}.\n` +
    'Run it through npm (npm start, npm test, npx churnflow), which uses the Node 24 that npm ci installs\n' +
    'from package.json, or install Node.js 24 yourself.\n'
  )
  process.exit(1)
}
// A processing command restarts itself in place with the heap flags and allocator setting that
// keep its memory in bounds; see heap.js.
const { restartForProcessing } = await import('./heap.js')
restartForProcessing(process.argv.slice(2))
await import('../src/cli/run.ts')
