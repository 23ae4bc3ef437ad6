// `node --import ./record-loads.mjs ...`: appends the URL of every module the process loads
// through the ESM loader to the file $PXEROOT_LOADED (test/e2e/startup.test.ts), and at exit those
// of the CommonJS modules it required (a library loaded on first use through createRequire, as
// config/issues.ts loads yaml, never passes the ESM loader's hooks on Node 20).
import {appendFileSync} from 'node:fs'
import {createRequire, register} from 'node:module'
import {pathToFileURL} from 'node:url'

register('./record-loads-hooks.mjs', import.meta.url)

const {cache} = createRequire(import.meta.url)
process.on('exit', () => {
  const required = Object.keys(cache).map((file) => `${pathToFileURL(file).href}\n`).join('')
  appendFileSync(process.env.PXEROOT_LOADED, required)
})
