/**
 * A pxeroot run that opens a node's root for writing (attached: FUSE export, loop, mount), says
 * "opened" on stdout and waits to be killed: what a run killed half-way leaves, for the tests.
 * argv: ROOT_DIR NODE
 */
import {loadSite} from '../../src/config/site-file.js'
import {storageFor} from '../../src/storage/registry.js'
import {makeContext} from '../../src/system/context.js'

const [dir, node] = process.argv.slice(2)
const ctx = makeContext({root: dir})
const storage = await storageFor(ctx, await loadSite(ctx.root))
const root = await storage.openRoot(node, {write: true})
process.stdout.write(`opened ${root.dir}\n`)
setInterval(() => {}, 60_000)
