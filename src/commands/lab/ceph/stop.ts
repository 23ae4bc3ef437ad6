import {Flags} from '@oclif/core'

import {BaseCommand} from '../../../cli/base-command.js'
import {EXIT_TABLE} from '../../../errors.js'
import {type CephLabStopResult} from '../../../lab/ceph.js'
import {CEPH_LAB_DIR, labCephStop} from '../../../services/lab-ceph.js'

export default class LabCephStop extends BaseCommand {
  static summary = 'Stop the throwaway Ceph cluster: its servers by PID, its network namespace; --purge removes its files'
  static description = `Stops the servers "pxeroot lab ceph start" recorded in --dir, by their PIDs (SIGTERM, then SIGKILL
after 20 s; a PID the kernel has given to another process since is left alone), ends anything
else left in the cluster's network namespace and deletes the namespace. The data stays unless
--purge, which removes the whole state directory (images and all). Safe on a cluster that is
half made, already stopped or gone.\n\n${EXIT_TABLE}`
  static examples = ['<%= config.bin %> lab ceph stop', '<%= config.bin %> lab ceph stop --purge']
  static flags = {
    dir: Flags.string({description: 'state directory of the cluster (a host path)', default: CEPH_LAB_DIR}),
    purge: Flags.boolean({description: 'also remove the state directory: configuration, keys and every image'}),
  }

  public async run(): Promise<CephLabStopResult> {
    const {flags} = await this.parse(LabCephStop)
    const result = await labCephStop(this.makeContext(flags.root), {dir: flags.dir, purge: flags.purge})
    if (!this.jsonEnabled()) {
      const ended = [...result.stopped, ...result.killed.map((n) => `${n} (killed)`)]
      this.log(ended.length > 0 ? `Stopped ${ended.join(', ')}.` : 'No server of the cluster was running.')
      if (result.namespace) this.log(`Network namespace ${result.namespace} deleted.`)
      this.log(result.purged ? `Removed ${result.dir}.` : `Its data stays in ${result.dir} ("pxeroot lab ceph start" starts it again; --purge removes it).`)
    }
    return result
  }
}
