/**
 * The order in which `npm test` hands files to its two workers (vitest.config.ts). Longest first,
 * so the two lanes end together instead of one worker starting a 10-minute lab file when the
 * other is done; but the golden image (1-3 min of debootstrap on a fresh machine, built once
 * under a lock by the first file that needs it) is waited for by only one worker: the longest
 * file starts it, the other worker meanwhile runs the files that need no golden image. So:
 *   1. LONG_FIRST[0], the longest file (it starts the golden build);
 *   2. the files that do not use the golden image (and are not in LONG_FIRST);
 *   3. the rest of LONG_FIRST, in its order;
 *   4. every other file;
 *   5. the fast tier (*.unit.test.ts), filling the gaps at the end.
 * Within each step vitest's own order stands: longest first by its record of the last run where
 * there is one (a developer's machine), else larger files first. Only the order changes: a file
 * runs the same wherever it stands.
 */
import {readFileSync} from 'node:fs'
import {BaseSequencer, type TestSpecification} from 'vitest/node'

/**
 * Path fragments of the files that take longest, longest first (each file's wall time alone
 * under TCG: README, "How long the tests take").
 */
export const LONG_FIRST = [
  'test/lab/rollout.test.ts',
  'test/lab/dnsmasq.test.ts',
  'test/lab/failover',
  'test/lab/rbd.test.ts',
  'test/lab/boot.test.ts',
  'test/lab/pair',
  'test/lab/kea.test.ts',
  'test/lab/uefi.test.ts',
  'test/images/faults.test.ts',
  'test/lab/http.test.ts',
  'test/lab/btrfs-ganesha.test.ts',
  'test/lab/ceph.test.ts',
  'test/servers/clone-race',
  'test/storage/rbd-',
  'test/servers/takeover-rbd',
]

/** What a file calls when it needs the golden image (test/support/golden.ts, lab-run.ts). */
const USES_GOLDEN = /\b(goldenImage|goldenCopy|goldenRevision|labNodes|labGolden)\(/

function step(spec: TestSpecification): number {
  const long = LONG_FIRST.findIndex((fragment) => spec.moduleId.includes(fragment))
  if (long === 0) return 0
  if (long > 0) return 1 + long
  if (spec.moduleId.endsWith('.unit.test.ts')) return 3 + LONG_FIRST.length
  return USES_GOLDEN.test(readFileSync(spec.moduleId, 'utf8')) ? 2 + LONG_FIRST.length : 1
}

export default class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const base = await super.sort(files)
    const steps = new Map(base.map((spec) => [spec, step(spec)]))
    // Array.prototype.sort is stable: within a step, vitest's own order stands.
    return [...base].sort((a, b) => steps.get(a)! - steps.get(b)!)
  }
}
