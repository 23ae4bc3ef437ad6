import {defineConfig} from 'vitest/config'

export default defineConfig({
  test: {
    disableConsoleIntercept: true,
    include: ['test/**/*.test.ts'],
    clearMocks: true,
    testTimeout: 60_000,
    hookTimeout: 600_000,
    // Heavy suites (debootstrap, qemu) share cached builds through files; run files one at a time
    // on CI's two cores so a build is never raced.
    fileParallelism: false,
    // One Ceph cluster per run, shared by its files (test/support/ceph.ts): stopped at the end,
    // and a killed run's reaped by the next.
    globalSetup: ['test/support/global-setup.ts'],
  },
})
