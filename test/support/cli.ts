import {spawnSync} from 'node:child_process'
import path from 'node:path'

// The built CLI (npm test builds first), as a user runs it.
export const BIN = path.resolve(import.meta.dirname, '../../bin/run.js')

/** Runs the built pxeroot under a --root, as a user would; bounded in time. */
export function pxeroot(root: string, ...args: string[]): {code: number | null, stdout: string, stderr: string} {
  const r = spawnSync(process.execPath, [BIN, ...args], {env: {...process.env, PXEROOT_ROOT: root, NODE_ENV: 'production'}, encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe']})
  return {code: r.status, stdout: r.stdout, stderr: r.stderr}
}

/** `pxeroot init` with the classic recipe's network. */
export const INIT = ['init', '--server', '192.168.0.10', '--subnet', '192.168.0.0/24', '--router', '192.168.0.10', '--dns', '8.8.8.8', '--domain', 'exemplo.com', '--nodes', '192.168.0.200-192.168.0.210']
