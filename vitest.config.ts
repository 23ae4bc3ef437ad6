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
  },
})
