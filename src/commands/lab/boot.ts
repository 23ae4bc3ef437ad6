import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {FIRMWARE} from '../../config/site.js'
import {EXIT_TABLE} from '../../errors.js'
import {labReport} from '../../lab/report.js'
import {type LabBootResult} from '../../lab/run.js'
import {labBoot} from '../../services/lab-boot.js'
import {spinnerLog} from '../../cli/spinner.js'

export default class LabBoot extends BaseCommand {
  static summary = 'Prove that nodes boot: PXE-boot them in VMs against the generated configuration'
  static description = `Starts a sealed copy of the boot network (a private network namespace: the site's DHCP server
(dhcpd, Kea or dnsmasq; in proxy mode also a stand-in for the network's own, handing out addresses
only), tftpd, lighttpd with boot.transport http, and NFS-Ganesha on the site's server address,
nothing reachable outside it) and PXE-boots one qemu VM per node into its own NFS root, running the
files apply generated as they are on disk (the lab's only changes: private state paths, its
interface, disk paths under --root, logging; see README "The lab"). Each boot is followed through
its milestones: DHCP lease (the addresses the firmware and the initramfs got), the loader's files,
kernel, initrd, initramfs lease, NFS root mounted, login prompt with the node's own hostname; the
report gives the kernel + initrd seconds. --firmware bios (the default) boots a PC BIOS through
pxelinux.0 and the node's pxelinux file over TFTP, or with boot.transport http through iPXE:
boot.ipxe, the node's iPXE script, kernel and initrd from the web server. --firmware uefi boots
OVMF with Microsoft's keys enrolled and Secure Boot enforced (package ovmf; the site's
boot.firmware must include uefi) through shim (bootx64.efi), grubx64.efi, grub/grub.cfg and the
node's GRUB file, and the node passes only when its kernel also reports Secure Boot enabled on the
console; a missing file or a kernel shim refuses fails at that milestone at once. A node bound by
address gets a lab MAC and leases its address from the generated dynamic range (the lease file is
seeded so that the DHCP server offers it first; no host entry). The VMs get console=ttyS0 through
the lab's private copy of their pxelinux file, GRUB file or iPXE script; nothing is written into
node roots or the tftp tree. A node whose command line says boot=rbd maps its own RBD clone: the
run joins the cluster's network (--ceph-netns: its bridge holding the monitor's address, on the
boot subnet), its milestone is "RBD root mounted" (the boot script's "pxeroot-rbd: / is" line; its
"pxeroot-rbd: FAILED:" line fails it at once), and at the end it is shut down cleanly
(ctrl-alt-del), so its writes reach the cluster. Needs root; uses KVM when
/dev/kvm works, else TCG. Exit 0 only when every node passed.\n\n${EXIT_TABLE}`
  static examples = ['<%= config.bin %> lab boot node01', '<%= config.bin %> lab boot node01 node02 --firmware uefi', '<%= config.bin %> lab boot node01 node02 --timeout 600 --keep-logs /tmp/lab-logs']
  static strict = false
  static args = {nodes: Args.string({description: 'nodes to boot', required: true})}
  static flags = {
    timeout: Flags.integer({description: 'seconds each VM gets to reach its login prompt', default: 600, min: 10}),
    'keep-logs': Flags.directory({description: 'copy every serial console, server log, config and capture of the run here'}),
    accel: Flags.option({options: ['auto', 'kvm', 'tcg'] as const, default: 'auto' as const, description: 'qemu accelerator (auto: KVM when /dev/kvm works)'})(),
    memory: Flags.integer({description: 'MiB of memory per VM', default: 512, min: 256}),
    firmware: Flags.option({options: FIRMWARE, default: 'bios' as const, description: 'the VMs\' firmware: bios (pxelinux) or uefi (OVMF, Secure Boot enforced: shim + GRUB)'})(),
    'network-next-server': Flags.boolean({description: 'proxy mode: the lab\'s stand-in for the network\'s DHCP server also sends next-server = the site\'s server, as UEFI nodes need of a site\'s server (README, proxy mode)'}),
    'ceph-netns': Flags.string({description: 'network namespace of the Ceph cluster nodes that boot from RBD map their roots from (default: the site\'s storage.rbd.netns; "pxeroot lab ceph start" prints it)'}),
    'one-at-a-time': Flags.boolean({description: 'start each VM once the one before it reached its login prompt or failed (e.g. a second machine claiming a root another one holds)'}),
  }

  public async run(): Promise<LabBootResult> {
    const {argv, flags} = await this.parse(LabBoot)
    const progress = spinnerLog(`booting ${(argv as string[]).join(', ')} in VMs`, {json: this.jsonEnabled()})
    try {
      const result = await labBoot(this.makeContext(flags.root, {log: progress.log}), {
        nodes: argv as string[], timeout: flags.timeout, keepLogs: flags['keep-logs'], accel: flags.accel, memoryMiB: flags.memory, firmware: flags.firmware, networkNextServer: flags['network-next-server'],
        cephNetns: flags['ceph-netns'], oneAtATime: flags['one-at-a-time'],
      })
      progress.stop()
      if (!this.jsonEnabled()) process.stdout.write(labReport(result))
      return result
    } catch (error) {
      progress.stop()
      // A run that booted but failed still gets its report: which milestone each node missed.
      const result = (error as {result?: LabBootResult}).result
      if (result && !this.jsonEnabled()) process.stdout.write(labReport(result))
      throw error
    }
  }
}
