import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {EXIT_TABLE, UserError} from '../../errors.js'
import {prepareRbdStorage, prepareStorage, type RbdPrepareResult, type StoragePrepareResult} from '../../services/storage-prepare.js'

export default class StoragePrepare extends BaseCommand {
  static summary = 'Put image revisions and node roots on btrfs (clones are snapshots) or in a Ceph RBD pool'
  static description = `Makes a btrfs filesystem on DEVICE (or on a sparse image file: --file PATH --size 20G), mounts it at
/srv/pxeroot-storage, creates the subvolumes images and nodes and binds them at the site's paths.images and
paths.nodes, and writes systemd mount units (owned by pxeroot) that bring it back after a reboot. Image
revisions then become read-only subvolumes and "nodes clone" takes writable snapshots of them: O(1) in
image size instead of a full copy per node.

Refuses, changing nothing: a device or file that already holds a filesystem or partition table (unless
--force, which destroys it), a target mounted elsewhere, and paths.images or paths.nodes when they already
hold data (move it away first, or point them at empty directories). A second run on prepared storage says
"already prepared" and exits 0; after a reboot without systemd it mounts what is missing. DEVICE is the
host's block device, never resolved under --root; --file is a host path like every other.

With --rbd POOL, revisions and roots go to that Ceph pool instead (README "Storage on Ceph RBD"): it
checks the cluster (an unreachable one is refused within 30 s), enables the rbd application on the pool,
sets require-min-compat-client mimic (a node's clone lives in another RBD namespace than its revision:
clone v2), creates the revisions namespace, and records the backend (storage: in the site file). The pool
must exist. --ceph-conf names the cluster's ceph.conf (a host path), --ceph-id the cephx user pxeroot runs
as, --netns a network namespace its Ceph clients run in (the lab's throwaway cluster, tests).\n\n${EXIT_TABLE}`
  static examples = [
    '<%= config.bin %> storage prepare /dev/sdb --dry-run',
    '<%= config.bin %> storage prepare /dev/sdb',
    '<%= config.bin %> storage prepare --file /var/lib/pxeroot/storage.img --size 20G',
    '<%= config.bin %> storage prepare --rbd pxeroot --ceph-conf /etc/ceph/ceph.conf --ceph-id pxeroot --dry-run',
  ]
  static args = {device: Args.string({description: 'block device to format whole, e.g. /dev/sdb'})}
  static flags = {
    file: Flags.string({description: 'an image file instead of a device (created sparse, mounted through a loop device)'}),
    size: Flags.string({description: 'size of the image file to create, e.g. 20G (with --file)'}),
    force: Flags.boolean({description: 'destroy a filesystem or partition table already on the device or file'}),
    rbd: Flags.string({description: 'a Ceph pool for revisions and roots instead of btrfs', exclusive: ['file', 'size', 'force']}),
    'ceph-conf': Flags.string({description: 'the cluster\'s ceph.conf (with --rbd; default /etc/ceph/ceph.conf)', dependsOn: ['rbd']}),
    'ceph-id': Flags.string({description: 'the cephx user pxeroot\'s Ceph clients run as, without "client." (with --rbd; default admin)', dependsOn: ['rbd']}),
    netns: Flags.string({description: 'lab and tests: the network namespace the cluster is reached from (with --rbd)', dependsOn: ['rbd']}),
    'dry-run': Flags.boolean({description: 'show the steps and the unit files; change nothing'}),
  }

  public async run(): Promise<StoragePrepareResult | RbdPrepareResult> {
    const {args, flags} = await this.parse(StoragePrepare)
    if (flags.rbd !== undefined) {
      if (args.device) throw new UserError('give either DEVICE or --rbd POOL, not both')
      return this.rbd(await prepareRbdStorage(this.makeContext(flags.root), {pool: flags.rbd, cephConf: flags['ceph-conf'], cephId: flags['ceph-id'], netns: flags.netns, dryRun: flags['dry-run']}))
    }
    const result = await prepareStorage(this.makeContext(flags.root), {device: args.device, file: flags.file, size: flags.size, force: flags.force, dryRun: flags['dry-run']})
    if (!this.jsonEnabled()) {
      const on = `${result.target.kind} ${result.target.path}`
      const where = `${result.binds.images} and ${result.binds.nodes} are the subvolumes images and nodes of the btrfs on ${on}, mounted at ${result.mountPoint}`
      if (result.alreadyPrepared) this.log(`Already prepared: ${where}.`)
      else {
        this.log(result.dryRun ? 'Would (dry run: nothing was changed):' : 'Done:')
        for (const step of result.steps) this.log(`  ${step}`)
        for (const unit of result.units) this.log(`  ${unit.action.padEnd(7)} ${unit.path}`)
        if (result.dryRun) process.stdout.write(result.diff)
        else this.log(`${where}. Image builds now make subvolumes, and "nodes clone" snapshots them.`)
      }
    }
    return result
  }

  private rbd(result: RbdPrepareResult): RbdPrepareResult {
    if (this.jsonEnabled()) return result
    const what = `pool ${result.pool} (${result.health}); nodes are told monitors ${result.monitors.join(', ')}`
    if (result.alreadyPrepared) this.log(`Already prepared: ${what}.`)
    else {
      this.log(result.dryRun ? 'Would (dry run: nothing was changed):' : 'Done:')
      for (const step of result.steps) this.log(`  ${step}`)
      if (result.dryRun) process.stdout.write(result.diff)
      else this.log(`Revisions and node roots now live in ${what}.`)
    }
    return result
  }
}
