import path from 'node:path'

import {type Config} from '@oclif/core'

import {type PxerootProgram} from '../schedule/schedule.js'

/** This very pxeroot, by absolute paths: cron has no nvm and a bare PATH, so "pxeroot" alone may not resolve. */
export function thisProgram(config: Config): PxerootProgram {
  return {
    argv: [process.execPath, path.join(config.root, 'bin', 'run.js')],
    commandIds: config.commandIDs,
  }
}
