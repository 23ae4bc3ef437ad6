/**
 * What an operator sees at the terminal (issue 13): colours only on a terminal and never in
 * --json, help that wraps at the terminal's width, shell completion.
 */
import {spawnSync} from 'node:child_process'
import {promises as fs} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {freshRootPerTest} from '../support/tmp-root.js'

const BIN = path.resolve(import.meta.dirname, '../../bin/run.js')
const INIT = ['init', '--server', '192.168.0.10', '--subnet', '192.168.0.0/24', '--nodes', '192.168.0.200-192.168.0.210']
// eslint-disable-next-line no-control-regex
const ANSI = /\u001B\[[0-9;]*m/

function pxeroot(env: Record<string, string>, ...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], {env: {...process.env, NODE_ENV: 'production', ...env}, encoding: 'utf8', timeout: 60_000})
  return {code: r.status, stdout: r.stdout, stderr: r.stderr}
}

/** The same, with stdout a terminal: util-linux `script` gives the command a pseudo-terminal. */
function onTerminal(env: Record<string, string>, ...args: string[]) {
  const command = [process.execPath, BIN, ...args].map((a) => `'${a.replaceAll("'", `'\\''`)}'`).join(' ')
  const r = spawnSync('script', ['-qec', command, '/dev/null'], {env: {...process.env, NODE_ENV: 'production', TERM: 'xterm', ...env}, encoding: 'utf8', timeout: 60_000})
  return {code: r.status, stdout: r.stdout}
}

const tmp = freshRootPerTest()

describe('the operator\'s terminal', () => {
  it('colours --dry-run diffs on a terminal, never when piped or with --json', async () => {
    const env = {PXEROOT_ROOT: tmp.dir}
    expect(pxeroot(env, ...INIT).code).toBe(0)
    expect(pxeroot(env, 'nodes', 'add', 'node01', '--no-reload').code).toBe(0)
    await fs.rm(path.join(tmp.dir, 'etc/dhcp/pxeroot.conf'))
    const tty = onTerminal(env, 'apply', '--dry-run')
    expect(tty.code).toBe(0)
    expect(tty.stdout).toMatch(/\u001B\[32m\+subnet 192\.168\.0\.0/)
    const piped = pxeroot(env, 'apply', '--dry-run')
    expect(piped.stdout).toContain('+subnet 192.168.0.0')
    expect(piped.stdout).not.toMatch(ANSI)
    const json = onTerminal(env, 'apply', '--dry-run', '--json')
    expect(json.stdout).toContain('"dryRun": true')
    expect(json.stdout).not.toMatch(ANSI)
    expect(onTerminal({...env, NO_COLOR: '1'}, 'apply', '--dry-run').stdout).not.toMatch(ANSI)
  })

  it('wraps help at the terminal\'s width, never inside a sentence of the source', () => {
    const narrow = pxeroot({OCLIF_COLUMNS: '60'}, 'nodes', 'clone', '--help').stdout
    const description = narrow.split('\nDESCRIPTION\n')[1].split('\nEXIT CODES')[0]
    expect(description.split('\n').every((l) => l.length <= 60)).toBe(true)
    const wide = pxeroot({OCLIF_COLUMNS: '400'}, 'nodes', 'clone', '--help').stdout
    // One paragraph of the description is one line when the terminal is wide enough.
    expect(wide).toMatch(/^ {2}Creates node01\.\.nodeCOUNT .* so the new nodes boot\.$/m)
  })

  it('completes commands and flags in bash and zsh', async () => {
    const cache = await fs.mkdtemp(path.join(os.tmpdir(), 'pxeroot-complete-'))
    try {
      const env = {XDG_CACHE_HOME: cache, HOME: cache}
      for (const shell of ['bash', 'zsh']) {
        const r = pxeroot(env, 'autocomplete', shell)
        expect(r.code, r.stderr).toBe(0)
        expect(r.stdout).toContain(`pxeroot autocomplete script ${shell}`)
      }
      const files = await fs.readdir(path.join(cache, 'pxeroot/autocomplete/functions/bash')).catch(() => [] as string[])
      const bash = await fs.readFile(path.join(cache, 'pxeroot/autocomplete/functions/bash', files[0] ?? 'pxeroot.bash'), 'utf8')
      expect(bash).toMatch(/nodes:clone|nodes clone/)
      expect(bash).toContain('--dry-run')
      const zsh = await fs.readFile(path.join(cache, 'pxeroot/autocomplete/functions/zsh/_pxeroot'), 'utf8')
      expect(zsh).toContain('clone')
    } finally {
      await fs.rm(cache, {recursive: true, force: true})
    }
  })
})
