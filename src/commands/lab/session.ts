import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {FIRMWARE} from '../../config/site.js'
import {EXIT_TABLE} from '../../errors.js'
import {runLabSession} from '../../services/lab-session.js'

export default class LabSessionCommand extends BaseCommand {
  static summary = 'Keep a lab up with emulated BMCs, and run a command in it (pxeroot nodes power, rollout, status)'
  static description = `Starts what "lab boot" starts (a private network namespace with the site's DHCP, TFTP, web and
NFS servers on the generated files) and, for each node named, the BMC its inventory entry
describes: OpenIPMI's ipmi_sim answering IPMI over LAN at the node's bmc.address with its user
and password (/etc/pxeroot/bmc-secrets or PXEROOT_BMC_PASSWORD), whose power-on starts the node's
VM (qemu, through ipmi-bmc-extern: "soft" presses its ACPI power button, "off" cuts it). Every
node starts powered off. Then it runs COMMAND (default: your shell) inside the lab's network
namespace with PXEROOT_LAB set, so the pxeroot commands run there drive the lab's BMCs with the
same drivers as hardware, and "status" reads the lab's servers. When COMMAND ends, everything is
stopped and the namespace deleted; the exit code is COMMAND's. Before a VM starts, the session
does to the lab's servers what apply's reload does on a server (the node's loader copy again,
NFS-Ganesha told of a root switched by rebase or rollback), and a VM whose console shows a boot
that will not get anywhere is stopped (its BMC then reports it off). Needs root and ipmi_sim
(openipmi), ipmitool and dbus besides lab boot's programs.\n\n${EXIT_TABLE}`

  static examples = [
    '<%= config.bin %> lab session node01 node02',
    '<%= config.bin %> lab session node01 node02 -- sh -c "pxeroot nodes power node01 node02 on && pxeroot rollout lab@2 --all --canary 1 --wave 1"',
  ]

  static strict = false
  static args = {nodes: Args.string({description: 'nodes (with IPMI BMCs in the inventory), then -- and the command to run in the lab', required: true})}
  static flags = {
    accel: Flags.option({options: ['auto', 'kvm', 'tcg'] as const, default: 'auto' as const, description: 'qemu accelerator (auto: KVM when /dev/kvm works)'})(),
    memory: Flags.integer({description: 'MiB of memory per VM', default: 512, min: 256}),
    firmware: Flags.option({options: FIRMWARE, default: 'bios' as const, description: 'the VMs\' firmware: bios or uefi (OVMF, Secure Boot enforced)'})(),
    hours: Flags.integer({description: 'the session\'s longest life: then everything is stopped', default: 4, min: 1}),
    'keep-logs': Flags.directory({description: 'copy every console, server and BMC log of the session here'}),
  }

  public async run(): Promise<{exitCode: number}> {
    // Everything after "--" is the command, word for word; only what comes before is pxeroot's.
    // (Taken before parsing: oclif's parse rewrites this.argv.)
    const given = [...this.argv]
    const cut = given.indexOf('--')
    const command = cut < 0 ? [] : given.slice(cut + 1)
    const {argv, flags} = await this.parse(LabSessionCommand, cut < 0 ? given : given.slice(0, cut))
    const exitCode = await runLabSession(this.makeContext(flags.root), {
      nodes: argv as string[], accel: flags.accel, memoryMiB: flags.memory, firmware: flags.firmware, maxSeconds: flags.hours * 3600, keepLogs: flags['keep-logs'],
    }, command)
    process.exitCode = exitCode
    if (exitCode !== 0) this.exit(exitCode)
    return {exitCode}
  }
}
