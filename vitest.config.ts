import {configDefaults, defineConfig} from 'vitest/config'

import LongestFirst from './test/support/sequencer.js'

/**
 * Files that must run with no other file beside them: the demo's set-up rebuilds dist/
 * (`rm -rf dist`, tsc), which every file that runs the built CLI reads.
 */
const ALONE = ['test/e2e/demo.test.ts']

/**
 * `npm test`: every file, two at a time (CI has two cores). A lab file spends much of its time
 * waiting (a VM's DHCP and TFTP, a rollout's power-off, a polled status) and uses one core per
 * VM under TCG; two files side by side fill each other's waits, and more than two VMs at a time
 * only share the same two cores (README, "How long the tests take"). What files share is built
 * once under a lock (the golden image, the Ceph cluster), and each lab run has network
 * namespaces, addresses and processes of its own, so two files never meet. The order is
 * test/support/sequencer.ts's: longest first. The fast tier (`npm run test:unit`,
 * vitest.unit.config.ts) runs here as its own project, with its files' modules shared.
 */
export default defineConfig({
  test: {
    disableConsoleIntercept: true,
    clearMocks: true,
    testTimeout: 60_000,
    hookTimeout: 600_000,
    maxWorkers: 2,
    sequence: {sequencer: LongestFirst},
    projects: [
      {extends: true, test: {name: 'unit', include: ['test/**/*.unit.test.ts'], isolate: false}},
      {
        extends: true,
        test: {
          name: 'system',
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, 'test/**/*.unit.test.ts', ...ALONE],
          // One Ceph cluster per run, shared by its files (test/support/ceph.ts): stopped at the
          // end, and a killed run's reaped by the next.
          globalSetup: ['test/support/global-setup.ts'],
        },
      },
      // After everything else, alone.
      {extends: true, test: {name: 'alone', include: ALONE, maxWorkers: 1, sequence: {groupOrder: 1}}},
    ],
  },
})
