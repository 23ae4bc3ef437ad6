import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {spinnerLog} from '../../cli/spinner.js'
import {EXIT_TABLE, UserError} from '../../errors.js'
import {failoverReport} from '../../lab/failover-report.js'
import {type FailoverResult} from '../../lab/pair.js'
import {labFailover} from '../../services/lab-failover.js'

export default class LabFailover extends BaseCommand {
  static summary = 'Prove that the boot servers fail over: a VM boots from the pair, the primary is lost, a second VM boots from the standby'
  static description = `For a site with several servers and Kea (README "Several boot servers"). The site's first two servers run
in one sealed lab network, each in its own namespace on one bridge, each with its own Kea (the HA
hook as apply rendered it), tftpd (lighttpd with boot.transport http) and NFS-Ganesha, on the files
"pxeroot apply --server NAME" wrote into that server's root (--server-root NAME=DIR; default --root).
Once both Kea HA hooks are up, FIRST PXE-boots from the pair (the primary answers it); then every
daemon of the primary is killed by PID, the standby's HA hook goes partner-down (the report gives how
long after), and SECOND boots from the standby alone. FIRST must still run afterwards (its root is
on a server that was not lost). The report gives each boot's milestones, which server answered it,
the standby's copy of FIRST's lease, the HA states and what "servers list" said before and after.
Needs root. Exit 0 only when all of it held.\n\n${EXIT_TABLE}`
  static examples = ['<%= config.bin %> lab failover node01 node02 --server-root boot2=/srv/boot2-rehearsal']
  static args = {
    first: Args.string({description: 'node booted while both servers serve', required: true}),
    second: Args.string({description: 'node booted from the standby alone', required: true}),
  }
  static flags = {
    'server-root': Flags.string({description: 'where "apply --server NAME" wrote a server\'s files, NAME=DIR (repeatable; default --root)', multiple: true}),
    timeout: Flags.integer({description: 'seconds each VM gets to reach its login prompt', default: 600, min: 10}),
    'keep-logs': Flags.directory({description: 'copy every serial console, server log, config and capture of the run here'}),
    accel: Flags.option({options: ['auto', 'kvm', 'tcg'] as const, default: 'auto' as const, description: 'qemu accelerator (auto: KVM when /dev/kvm works)'})(),
    memory: Flags.integer({description: 'MiB of memory per VM', default: 512, min: 256}),
  }

  public async run(): Promise<FailoverResult> {
    const {args, flags} = await this.parse(LabFailover)
    const serverRoots: Record<string, string> = {}
    for (const entry of flags['server-root'] ?? []) {
      const m = /^([^=]+)=(.+)$/.exec(entry)
      if (!m) throw new UserError(`--server-root: "${entry}" is not NAME=DIR`, 'e.g. --server-root boot2=/srv/boot2-rehearsal')
      serverRoots[m[1]] = m[2]
    }
    const progress = spinnerLog(`failing over with ${args.first} and ${args.second}`, {json: this.jsonEnabled()})
    try {
      const result = await labFailover(this.makeContext(flags.root, {log: progress.log}), {first: args.first, second: args.second, serverRoots, timeout: flags.timeout, keepLogs: flags['keep-logs'], accel: flags.accel, memoryMiB: flags.memory})
      progress.stop()
      if (!this.jsonEnabled()) process.stdout.write(failoverReport(result))
      return result
    } catch (error) {
      progress.stop()
      const result = (error as {result?: FailoverResult}).result
      if (result && !this.jsonEnabled()) process.stdout.write(failoverReport(result))
      throw error
    }
  }
}
