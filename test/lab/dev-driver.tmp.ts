import {runCommand} from '../support/golden.js'
const [cmdPath, ...argv] = process.argv.slice(2)
const {default: Cmd} = await import(`../../src/commands/${cmdPath}.js`)
const r = await runCommand(Cmd, argv)
if (r.error) console.error('ERROR', r.code, r.error.message)
process.exitCode = r.code
