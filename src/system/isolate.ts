import {type RunOptions, type RunResult, type Runner} from './runner.js'

export interface Isolation {
  /** Files or directories bound over paths, inside the namespace only: [source, target]. */
  binds?: readonly (readonly [string, string])[]
  /** Empty tmpfs mounted over these directories (when they exist), inside the namespace only. */
  tmpfs?: readonly string[]
  /** A fresh network namespace too (no interfaces but lo, down): a daemon started in it reaches nothing. */
  network?: boolean
  /** Interfaces (veth pairs) created in that fresh network namespace, for a checker that insists
   * the interface it is told to serve exists (kea-dhcp4 -t); they die with the namespace. */
  interfaces?: readonly string[]
}

/**
 * A constant script: the mounts come as positional parameters, never interpolated. Each spec is
 * "bind SRC DST", "tmpfs DIR" or "link NAME"; "--" ends them and the command follows.
 */
const SCRIPT = [
  'set -e',
  'while [ "$1" != "--" ]; do',
  '  case "$1" in',
  '    bind) mount --bind "$2" "$3"; shift 3 ;;',
  '    tmpfs) if [ -d "$2" ]; then mount -t tmpfs pxeroot-isolate "$2"; fi; shift 2 ;;',
  '    link) ip link show "$2" >/dev/null 2>&1 || ip link add "$2" type veth peer name "pxeroot-peer$#"; shift 2 ;;',
  '    *) echo "pxeroot-isolate: bad spec $1" >&2; exit 99 ;;',
  '  esac',
  'done',
  'shift',
  'set +e',
  'exec "$@"',
].join('\n')

/**
 * Runs argv in private mount (and, if asked, network) namespaces, with the given files bound
 * over their targets and scratch tmpfs over state directories: a daemon's checker sees the
 * candidate where the live file is, and nothing it does reaches the live system. The mounts
 * die with the namespace, also when the process is killed.
 */
export async function runIsolated(runner: Runner, isolation: Isolation, argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const specs = [
    ...(isolation.binds ?? []).flatMap(([source, target]) => ['bind', source, target]),
    ...(isolation.tmpfs ?? []).flatMap((dir) => ['tmpfs', dir]),
    ...(isolation.network ? isolation.interfaces ?? [] : []).flatMap((name) => ['link', name]),
  ]
  const unshare = ['--mount', ...(isolation.network ? ['--net'] : []), '--propagation', 'private']
  return runner.run('unshare', [...unshare, 'sh', '-c', SCRIPT, 'pxeroot-isolate', ...specs, '--', ...argv], options)
}
