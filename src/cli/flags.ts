import {Flags} from '@oclif/core'

/** Flags of every command that changes boot files. */
export const applyFlags = {
  'dry-run': Flags.boolean({description: 'print the diff of every file that would change; change nothing'}),
  reload: Flags.boolean({description: 'reload the services whose files changed (--no-reload to skip)', default: true, allowNo: true}),
}

/** The server a run acts as, on a site with several (README "Several boot servers"). */
export const serverFlag = {
  server: Flags.string({description: 'on a site with several boot servers: the one this run is for (default: the one whose address this machine holds)', env: 'PXEROOT_SERVER', helpValue: 'NAME'}),
}

/** nodes add/set: which server holds the node's root (the inventory's `server`). */
export const rootServerFlag = {
  server: Flags.string({description: 'on a site with several boot servers: the one that holds and exports the node\'s root (default for a new node: this one); moving a root is the admin\'s', helpValue: 'NAME'}),
}
