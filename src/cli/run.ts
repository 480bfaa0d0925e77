import { main } from './main.ts'

process.exitCode = await main(process.argv.slice(2), {
  stdout: text => { process.stdout.write(text) },
  stderr: text => { process.stderr.write(text) },
  env: process.env
})
