import {defineConfig} from 'vitest/config'

import base from './vitest.config.js'

/**
 * The fast tier (`npm run test:unit`): every file named `*.unit.test.ts`. Such a file needs no
 * root, loop device, namespace, daemon, VM, system package or build: pure functions, the fake
 * runner and temp dirs. Nothing is shared through cached builds, so files run side by side, and
 * the files of one worker share its loaded modules (no isolation: half the tier's time was each
 * file importing src/ again; these tests mock no module). `npm test` (vitest.config.ts) still
 * runs them with everything else, isolated.
 */
export default defineConfig({
  test: {
    ...base.test,
    include: ['test/**/*.unit.test.ts'],
    fileParallelism: true,
    isolate: false,
    testTimeout: 10_000,
    hookTimeout: 10_000,
  },
})
