import {Flags} from '@oclif/core'

import {BaseCommand} from '../../../cli/base-command.js'
import {EXIT_TABLE} from '../../../errors.js'
import {type CephLabStartResult} from '../../../lab/ceph.js'
import {CEPH_LAB_DIR, labCephStart} from '../../../services/lab-ceph.js'
import {spinnerLog} from '../../../cli/spinner.js'

export default class LabCephStart extends BaseCommand {
  static summary = 'Start a throwaway single-host Ceph cluster for trying the rbd backend and booting lab VMs from it'
  static description = `Starts 1 monitor, 1 manager and 1 bluestore OSD (on a sparse file) from Debian's packages
(ceph-mon ceph-mgr ceph-osd ceph-common), with the pool rbd, and waits for HEALTH_OK (about 20 s
on 2 cores). Every file is under --dir: ceph.conf, the admin keyring, the monitor's and the OSD's
data, sockets, logs and the servers' PIDs. Every server runs in the foreground inside a network
namespace of its own (pxeroot-ceph-<hash of --dir>), on one address of a bridge there (ceph0),
bounded by --lifetime; nothing listens on the host's own network. The address defaults to a free
one of the site's boot subnet (the highest not used by the server, the router, the node and pool
ranges or the lab's stand-in DHCP server), so that "pxeroot lab boot" VMs reach the monitor and the
OSD on their own link: a lab run joins the cluster's bridge. pxeroot's own Ceph clients reach it
through the namespace (nsenter --net). Run it again on a running cluster: it says so. On a stopped
one (not purged): starts it again with its images. Stop it with "pxeroot lab ceph stop".\n\n${EXIT_TABLE}`
  static examples = [
    '<%= config.bin %> lab ceph start',
    '<%= config.bin %> lab ceph start --address 10.77.0.253/24 --dir /var/tmp/ceph-try',
  ]
  static flags = {
    dir: Flags.string({description: 'state directory of the cluster (a host path)', default: CEPH_LAB_DIR}),
    address: Flags.string({description: 'ADDR/PREFIX the servers listen on (default: a free address of the site\'s subnet)'}),
    'osd-size': Flags.integer({description: 'GiB of the OSD\'s sparse block file', default: 20, min: 1}),
    lifetime: Flags.integer({description: 'minutes each server may run before it is stopped (a bound, whatever happens)', default: 720, min: 1}),
  }

  public async run(): Promise<CephLabStartResult> {
    const {flags} = await this.parse(LabCephStart)
    const progress = spinnerLog('starting the lab cluster', {json: this.jsonEnabled()})
    let result: CephLabStartResult
    try {
      result = await labCephStart(this.makeContext(flags.root, {log: progress.log}), {dir: flags.dir, address: flags.address, osdGiB: flags['osd-size'], lifetimeMinutes: flags.lifetime})
    } finally {
      progress.stop()
    }
    if (!this.jsonEnabled()) {
      const how = result.alreadyRunning ? 'already running' : `${result.restarted ? 'started again' : 'up'}: ${result.health} in ${result.seconds.toFixed(1)} s`
      const rootFlag = flags.root === '/' ? '' : ` --root ${flags.root}`
      this.log(`Cluster ${how} (1 mon, 1 mgr, 1 OSD; pool ${result.pool}).`)
      this.log(`  ceph.conf   ${result.conf}`)
      this.log(`  namespace   ${result.namespace}`)
      this.log(`  monitor     ${result.monitor} (v1; v2 on port 3300), ${result.address} on its bridge`)
      this.log(`  admin key   ${result.adminKeyring}`)
      this.log('Use it:')
      this.log(`  pxeroot storage prepare --rbd ${result.pool} --ceph-conf ${result.confHostPath} --netns ${result.namespace}${rootFlag}`)
      this.log(`  nsenter --net=/run/netns/${result.namespace} ceph --conf ${result.conf} -s`)
      this.log(`Stop it: pxeroot lab ceph stop${flags.dir === CEPH_LAB_DIR ? '' : ` --dir ${flags.dir}`}${rootFlag} [--purge]`)
    }
    return result
  }
}
