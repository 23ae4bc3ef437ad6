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
Once both Kea HA hooks are up, NODES PXE-boot from the pair (the primary answers them); then every
daemon of the primary is killed by PID, the standby's HA hook goes partner-down (the report gives how
long after), and the --after nodes boot from the standby alone. With --takeover the primary's
address goes too and the standby runs "servers takeover" on its files: it exports the roots the
primary held, at the primary's address. Every node booted before must still run afterwards; one
whose root the primary held may stall until the takeover, then go on (a writer in its root that
prints "pxeroot-lab: write N synced at EPOCH" on the console is followed). The report gives each
boot's milestones, which server answered it, the standby's copy of its lease, the HA states and what
"servers list" said before and after. Needs root. Exit 0 only when all of it held.\n\n${EXIT_TABLE}`
  static examples = ['<%= config.bin %> lab failover node02 --after node01 --server-root boot2=/srv/boot2-rehearsal', '<%= config.bin %> lab failover node02 node03 --after node01 --takeover']
  static strict = false
  static args = {nodes: Args.string({description: 'nodes booted while both servers serve', required: true})}
  static flags = {
    after: Flags.string({description: 'nodes booted from the standby once the primary is lost (repeatable, or comma-separated)', required: true, multiple: true}),
    takeover: Flags.boolean({description: 'the standby also takes over the roots the primary held and its address (servers takeover --address): their nodes must run on'}),
    'server-root': Flags.string({description: 'where "apply --server NAME" wrote a server\'s files, NAME=DIR (repeatable; default --root)', multiple: true}),
    'ceph-netns': Flags.string({description: 'network namespace of the Ceph cluster nodes that boot from RBD map their roots from (default: the site\'s storage.rbd.netns)'}),
    timeout: Flags.integer({description: 'seconds each VM gets to reach its login prompt', default: 600, min: 10}),
    'keep-logs': Flags.directory({description: 'copy every serial console, server log, config and capture of the run here'}),
    accel: Flags.option({options: ['auto', 'kvm', 'tcg'] as const, default: 'auto' as const, description: 'qemu accelerator (auto: KVM when /dev/kvm works)'})(),
    memory: Flags.integer({description: 'MiB of memory per VM', default: 512, min: 256}),
  }

  public async run(): Promise<FailoverResult> {
    const {argv, flags} = await this.parse(LabFailover)
    const before = argv as string[]
    const after = flags.after.flatMap((a) => a.split(',')).map((a) => a.trim()).filter(Boolean)
    const serverRoots: Record<string, string> = {}
    for (const entry of flags['server-root'] ?? []) {
      const m = /^([^=]+)=(.+)$/.exec(entry)
      if (!m) throw new UserError(`--server-root: "${entry}" is not NAME=DIR`, 'e.g. --server-root boot2=/srv/boot2-rehearsal')
      serverRoots[m[1]] = m[2]
    }
    const progress = spinnerLog(`failing over with ${[...before, ...after].join(', ')}`, {json: this.jsonEnabled()})
    try {
      const result = await labFailover(this.makeContext(flags.root, {log: progress.log}), {before, after, takeover: flags.takeover, serverRoots, timeout: flags.timeout, keepLogs: flags['keep-logs'], accel: flags.accel, memoryMiB: flags.memory, cephNetns: flags['ceph-netns']})
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
