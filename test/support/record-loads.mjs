// `node --import ./record-loads.mjs ...`: appends the URL of every module the process loads
// through the ESM loader to the file $PXEROOT_LOADED (test/e2e/startup.test.ts).
import {register} from 'node:module'

register('./record-loads-hooks.mjs', import.meta.url)
