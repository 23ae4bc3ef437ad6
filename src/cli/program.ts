import path from 'node:path'

import {type Command, type Config, Flags, Parser} from '@oclif/core'

import {UserError} from '../errors.js'
import {type SchedulableProgram} from '../services/schedule-set.js'
import {argvProblem} from './argv-problem.js'

/**
 * This very pxeroot, by absolute paths (cron has no nvm and a bare PATH, so "pxeroot" alone may
 * not resolve), and its commands' own argv parsers: a scheduled command is refused now, naming
 * the flag, for whatever it would refuse each time cron ran it.
 */
export function thisProgram(config: Config): SchedulableProgram {
  return {
    argv: [process.execPath, path.join(config.root, 'bin', 'run.js')],
    commandIds: config.commandIDs,
    async parseArgs(commandId, argv) {
      const command: Command.Class | undefined = await config.findCommand(commandId)?.load()
      if (!command) return undefined
      const flags = {...command.baseFlags, ...command.flags, ...(command.enableJsonFlag ? {json: Flags.boolean()} : {})}
      try {
        const out = await Parser.parse([...argv], {flags, args: command.args ?? {}, strict: command.strict ?? true})
        return {id: commandId, args: out.args, flags: out.flags, argv: out.argv.map(String)}
      } catch (error) {
        const shown = commandId.replaceAll(':', ' ')
        throw new UserError(`command: ${shown}: ${argvProblem(error as Error, Object.keys(flags))}`, `see "${config.bin} ${shown} --help"`)
      }
    },
  }
}
