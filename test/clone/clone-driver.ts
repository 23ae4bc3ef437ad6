// Runs `nodes clone` in a child process for the kill test, without the CLI's build manifest:
//   node --import tsx test/clone/clone-driver.ts ROOT COUNT
import {cloneNodes} from '../../src/services/nodes-clone.js'
import {makeRoot} from '../../src/system/paths.js'
import {execaRunner} from '../../src/system/runner.js'
import {hostFiles} from '../../src/system/files.js'

const [rootDir, count] = process.argv.slice(2)
await cloneNodes({root: makeRoot(rootDir), runner: execaRunner(), files: hostFiles, log: (l) => process.stderr.write(`${l}\n`), signal: new AbortController().signal, json: false}, {count: Number(count)})
