import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {printedRollout} from '../../cli/rollout-report.js'
import {parseDuration} from '../../config/duration.js'
import {EXIT_TABLE, UserError} from '../../errors.js'
import {rollout, type RolloutResult} from '../../services/rollout.js'

/** A --timeout-like flag: 600, 90s, 10m, 1h. */
export function durationFlag(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined
  const seconds = parseDuration(value)
  if (seconds === undefined || seconds < 1) throw new UserError(`--${flag}: "${value}" is not a duration; write 600, 90s, 10m or 1h`)
  return seconds
}

export default class Rollout extends BaseCommand {
  static summary = 'Move nodes onto a revision wave by wave through their BMCs, proving each came up and rolling back those that did not'
  static description = `For each node (the canaries first, alone, then waves of --wave): power off (its OS asked to
shut down first, the power cut after --shutdown-timeout), "nodes rebase" onto the revision
keeping node-local state, power on, and wait until the node proves it came up on the new
revision (the boot report its image writes into its root, with a new boot id) and status shows
it UP. A node that does not within --timeout (or whose power goes off while it boots) is
powered off, rolled back ("nodes rollback"), powered on and checked; the rollout then stops
after its wave and later waves are not touched. Before any node is touched, every node's BMC is
asked (a node with no BMC, a wrong password or a BMC that does not answer: one line each), the
revision must be bootable and have the boot report, and a revision an earlier rollout found not
to boot is refused unless --retry. Ctrl-C or a kill leaves every node on its old or its new
revision: "pxeroot rollout resume", or the same rollout again, carries on. Every rollout is
recorded in /var/lib/pxeroot/rollouts/ID.json ("rollout status"). Defaults from the site file's
rollout section (canary 1, wave 5, timeout 10m, shutdownTimeout 2m).\n\n${EXIT_TABLE}`

  static examples = [
    '<%= config.bin %> rollout debian-bookworm@2 --all --canary 1 --wave 5 --timeout 10m',
    '<%= config.bin %> rollout --latest --all',
    '<%= config.bin %> rollout lab@3 node01..node04 --dry-run',
  ]

  static strict = false
  static args = {words: Args.string({description: 'REVISION (NAME@N, or NAME for its current one) unless --latest, then the nodes (names or ranges) unless --all'})}
  static flags = {
    latest: Flags.boolean({description: 'each node to its image\'s current revision'}),
    all: Flags.boolean({description: 'every node with a root (of the revision\'s image)'}),
    canary: Flags.integer({description: 'nodes moved first, alone (default: site rollout.canary, 1)', min: 0}),
    wave: Flags.integer({description: 'nodes moved at once after them (default: site rollout.wave, 5)', min: 1}),
    timeout: Flags.string({description: 'how long a node gets to come up, e.g. 10m (default: site rollout.timeout)'}),
    'shutdown-timeout': Flags.string({description: 'how long its OS gets to shut down before the power is cut, e.g. 2m (default: site rollout.shutdownTimeout)'}),
    'dry-run': Flags.boolean({description: 'print the plan (and ask every BMC); change nothing'}),
    retry: Flags.boolean({description: 'roll out a revision an earlier rollout found not to boot'}),
  }

  public async run(): Promise<RolloutResult> {
    const {argv, flags} = await this.parse(Rollout)
    const words = argv as string[]
    if (!flags.latest && words.length === 0) throw new UserError('name the revision (NAME@N), or pass --latest', 'e.g. "pxeroot rollout debian-bookworm@2 --all"')
    const target = flags.latest ? 'latest' : words[0]
    const names = flags.latest ? words : words.slice(1)
    if (flags.all === names.length > 0) throw new UserError('name the nodes or pass --all (not both)', 'e.g. "pxeroot rollout lab@2 --all"')
    const options = {
      target, nodes: flags.all ? 'all' as const : names, canary: flags.canary, wave: flags.wave,
      timeout: durationFlag(flags.timeout, 'timeout'), shutdownTimeout: durationFlag(flags['shutdown-timeout'], 'shutdown-timeout'), dryRun: flags['dry-run'], retry: flags.retry,
    }
    return printedRollout(this.jsonEnabled(), () => rollout(this.makeContext(flags.root), options))
  }
}
