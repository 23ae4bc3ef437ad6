/**
 * Runs one image command in its own process (fault tests kill its process group):
 *   node --import tsx test/support/image-cli.ts build debian-bookworm --root DIR
 * The committed oclif manifest may predate these commands, so the classes are loaded directly.
 */
import {REPO} from './golden.js'

const commands: Record<string, () => Promise<{default: {run(argv: string[], opts: string): Promise<unknown>}}>> = {
  build: () => import('../../src/commands/image/build.js'),
  update: () => import('../../src/commands/image/update.js'),
  exec: () => import('../../src/commands/image/exec.js'),
}

const [verb, ...argv] = process.argv.slice(2)
const load = commands[verb]
if (!load) {
  process.stderr.write(`unknown image command ${verb}\n`)
  process.exit(2)
}
const {default: Cmd} = await load()
try {
  await Cmd.run(argv, REPO)
} catch (error) {
  const e = error as {oclif?: {exit?: number}}
  process.exit(e.oclif?.exit ?? 1)
}
