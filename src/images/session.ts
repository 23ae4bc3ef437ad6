import {type Context} from '../system/context.js'
import {ExternalCommandError, UserError} from '../errors.js'
import {changeImage, type ChangeResult} from './change.js'

/** `image exec NAME -- argv`: a new revision if the command succeeded and changed the image. */
export async function execInImage(ctx: Context, image: string, argv: string[], version: string): Promise<ChangeResult> {
  if (argv.length === 0) throw new UserError('missing command: pxeroot image exec NAME -- COMMAND [ARGS...]')
  const write = (line: string) => (ctx.json ? process.stderr : process.stdout).write(`${line}\n`)
  return changeImage(ctx, image, {origin: 'exec', command: argv, publishFileChanges: true, version}, async (session) => {
    await session.run(argv, {timeout: 4 * 60 * 60_000, cancelSignal: ctx.signal, onLine: write})
  })
}

/** `image shell NAME`: an interactive shell; leaving it with exit 0 publishes the changes, anything else discards them. */
export async function shellInImage(ctx: Context, image: string, version: string): Promise<ChangeResult> {
  return changeImage(ctx, image, {origin: 'shell', command: ['/bin/bash', '-l'], publishFileChanges: true, version}, async (session) => {
    ctx.log(`${image}: shell in a working copy; "exit" publishes a new revision if anything changed, "exit 1" discards it`)
    const code = await session.interactive(['/bin/bash', '-l'])
    if (code !== 0) throw new ExternalCommandError('bash', ['-l'], code, '', `the image shell exited with ${code}; changes discarded`)
  })
}
