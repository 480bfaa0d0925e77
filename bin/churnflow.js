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
// A processing command restarts itself in place (same pid, so signals and kill -9 reach it) with
// the heap flags and allocator setting that keep its memory in bounds; see heap.js.
const { allocatorEnv, heapFlags } = await import('./heap.js')
const args = process.argv.slice(2)
const flags = heapFlags(args, process.env.NODE_OPTIONS, process.execArgv)
const env = allocatorEnv(args, process.env)
if ((flags.length > 0 || Object.keys(env).length > 0) && typeof process.execve === 'function') {
  process.execve(process.execPath, [process.execPath, ...flags, ...process.execArgv, ...process.argv.slice(1)], { ...process.env, ...env })
}
await import('../src/cli/run.ts')
