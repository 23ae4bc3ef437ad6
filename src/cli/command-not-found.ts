import {type Hook} from '@oclif/core'

import {closest} from '../config/suggest.js'
import {UserError} from '../errors.js'
import {errorJson, errorLine} from './error-report.js'

/**
 * oclif's command_not_found hook: an unknown command is a usage error like any other (exit 2,
 * one line, a "did you mean"), not oclif's exit 1. With spaces between topic and command, oclif
 * reads "apply now" as the command "apply now": that is a known command with an argument too many.
 */
const commandNotFound: Hook<'command_not_found'> = async function (options) {
  const words = options.id.split(':')
  const ids = options.config.commandIDs
  const bin = options.config.bin
  let error: UserError | undefined
  for (let n = words.length - 1; n > 0 && !error; n--) {
    const id = words.slice(0, n).join(':')
    if (!ids.includes(id)) continue
    const extra = words.slice(n)
    error = new UserError(`unexpected argument${extra.length === 1 ? '' : 's'} ${extra.join(' ')}`, `see "${bin} ${id.replaceAll(':', ' ')} --help"`)
  }
  if (!error) {
    const guess = closest(options.id, ids)
    error = new UserError(`unknown command "${words.join(' ')}"${guess ? `; did you mean "${guess.replaceAll(':', ' ')}"?` : ''}`, `see "${bin} --help"`)
  }
  if (options.argv?.includes('--json')) process.stdout.write(`${JSON.stringify(errorJson(error), null, 2)}\n`)
  else process.stderr.write(errorLine(error))
  this.exit(error.exitCode)
}

export default commandNotFound
