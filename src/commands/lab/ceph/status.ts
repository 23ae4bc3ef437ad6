import {Flags} from '@oclif/core'

import {BaseCommand} from '../../../cli/base-command.js'
import {EXIT_TABLE} from '../../../errors.js'
import {type CephLabStatusResult} from '../../../lab/ceph.js'
import {CEPH_LAB_DIR, labCephStatus} from '../../../services/lab-ceph.js'

export default class LabCephStatus extends BaseCommand {
  static summary = 'Whether the throwaway Ceph cluster runs, where, and its health'
  static description = `Reads the cluster "pxeroot lab ceph start" keeps in --dir: its servers (running by their recorded
PIDs), its network namespace, monitor address and ceph.conf, and, when it runs, "ceph health" (as
root). Exit 0 whether it runs or not; --json for scripts.\n\n${EXIT_TABLE}`
  static examples = ['<%= config.bin %> lab ceph status', '<%= config.bin %> lab ceph status --json']
  static flags = {
    dir: Flags.string({description: 'state directory of the cluster (a host path)', default: CEPH_LAB_DIR}),
  }

  public async run(): Promise<CephLabStatusResult> {
    const {flags} = await this.parse(LabCephStatus)
    const result = await labCephStatus(this.makeContext(flags.root), {dir: flags.dir})
    if (!this.jsonEnabled()) {
      if (!result.exists) {
        this.log(`No cluster in ${result.dir} ("pxeroot lab ceph start" makes one).`)
        return result
      }
      this.log(`Cluster in ${result.dir}: ${result.running ? `running${result.health ? `, ${result.health}` : ''}` : 'stopped'}`)
      this.log(`  namespace   ${result.namespace}`)
      this.log(`  monitor     ${result.monitor}`)
      this.log(`  ceph.conf   ${result.conf}`)
      for (const s of result.servers ?? []) this.log(`  ${s.name.padEnd(11)} ${s.running ? `running, pid ${s.pid}` : 'stopped'}`)
    }
    return result
  }
}
