/**
 * `npm run demo` (bin/demo.sh) shows pxeroot's own progress, not pages of apt and npm output:
 * those go to a log file it names. The set-up half runs here for real (packages already installed
 * are a no-op; the build runs); the rest of the demo is what the lab and clone tests prove.
 */
import {spawnSync} from 'node:child_process'
import {promises as fs} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

const REPO = path.resolve(import.meta.dirname, '../..')
const isRoot = process.getuid?.() === 0

describe.skipIf(!isRoot)('npm run demo', () => {
  it('keeps apt and npm output in the log file it names, and its own lines on the terminal', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pxeroot-demo-test-'))
    try {
      const log = path.join(dir, 'setup.log')
      const r = spawnSync('bash', ['bin/demo.sh'], {cwd: REPO, encoding: 'utf8', timeout: 600_000,
        env: {...process.env, NODE_ENV: 'production', PXEROOT_DEMO_LOG: log, PXEROOT_DEMO_SETUP_ONLY: '1', PXEROOT_DEMO_ROOT: path.join(dir, 'root')}})
      expect(r.status, r.stderr).toBe(0)
      const shown = `${r.stdout}${r.stderr}`
      expect(shown).toContain(log)
      // What npm run build prints (tsc, oclif) is in the log, not on the terminal.
      expect(shown).not.toMatch(/wrote manifest|oclif|npm (warn|notice)|Reading package lists/)
      expect(await fs.readFile(log, 'utf8')).toContain('wrote manifest')
      expect(shown.trim().split('\n').length).toBeLessThanOrEqual(3)
    } finally {
      await fs.rm(dir, {recursive: true, force: true})
    }
  }, 600_000)
})
