import {Flags} from '@oclif/core'

/** Flags of every command that changes boot files. */
export const applyFlags = {
  'dry-run': Flags.boolean({description: 'print the diff of every file that would change; change nothing'}),
  reload: Flags.boolean({description: 'reload the services whose files changed (--no-reload to skip)', default: true, allowNo: true}),
}
