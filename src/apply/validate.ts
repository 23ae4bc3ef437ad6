import {promises as fs} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {ValidationError} from '../errors.js'
import {dhcpdIncludeLine} from '../render/dhcpd.js'
import {tempNameFor} from '../system/files.js'
import {type Root} from '../system/paths.js'
import {type Runner} from '../system/runner.js'
import {OWNED_PATHS} from './owned.js'

/**
 * Checks the candidate dhcpd configuration with dhcpd itself. The candidate is dhcpd.conf with
 * pxeroot's include inlined, written inside /etc/dhcp because dhcpd's AppArmor profile lets it
 * read nothing else; it is removed afterwards whatever happens.
 */
export async function checkDhcpd(root: Root, runner: Runner, mainConf: string, include: string, signal?: AbortSignal): Promise<void> {
  const line = dhcpdIncludeLine(OWNED_PATHS.dhcpInclude)
  const inlined = mainConf.split('\n').map((l) => (l.trim() === line ? include : l)).join('\n')
  const candidate = tempNameFor(root.resolve(OWNED_PATHS.dhcpInclude))
  await fs.mkdir(path.dirname(candidate), {recursive: true})
  await fs.writeFile(candidate, inlined, {mode: 0o644})
  try {
    const result = await runner.run('dhcpd', ['-t', '-4', '-q', '-cf', candidate], {reject: false, timeout: 30_000, cancelSignal: signal})
    if (result.exitCode !== 0) {
      const why = `${result.stdout}\n${result.stderr}`.split('\n').map((l) => l.trim())
        .filter((l) => l && !/^(Internet Systems|Copyright|All rights|For info|Config file|Database file|PID file|Configuration file errors)/.test(l))
      throw new ValidationError(`dhcpd rejects the generated configuration: ${why.slice(0, 4).join(' | ').replaceAll(candidate, OWNED_PATHS.dhcpMain)}`, 'nothing was written; fix the setting it names')
    }
  } finally {
    await fs.rm(candidate, {force: true})
  }
}

/**
 * Checks the candidate exports with the real exportfs, in private mount and network namespaces:
 * the candidate is bound over /etc/exports, the export table (/var/lib/nfs) is a throwaway
 * tmpfs, and the sunrpc caches and nfsd are the new network namespace's, so the live server's
 * exports are never touched. exportfs stops reading a file at a bad line and turns a space
 * before "(" into an export to the world; both are refused here.
 */
const EXPORTFS_CHECK = [
  'set -e',
  'mount --bind "$1" /etc/exports',
  '[ -d /etc/exports.d ] && mount -t tmpfs none /etc/exports.d',
  'mount -t tmpfs none /var/lib/nfs',
  '[ -d /proc/fs/nfsd ] && mount -t tmpfs none /proc/fs/nfsd',
  'set +e',
  'exportfs -ra',
  'echo "--etab--"',
  'cat /var/lib/nfs/etab',
].join('\n')

export async function checkExports(runner: Runner, exportsText: string, signal?: AbortSignal): Promise<void> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pxeroot-exports-'))
  try {
    const file = path.join(dir, 'candidate.exports')
    await fs.writeFile(file, exportsText, {mode: 0o644})
    const result = await runner.run('unshare', ['--mount', '--net', '--propagation', 'private', 'sh', '-c', EXPORTFS_CHECK, 'pxeroot-exports-check', file],
      {reject: false, timeout: 30_000, cancelSignal: signal})
    const problems = result.stderr.split('\n').map((l) => l.trim())
      .filter((l) => /^exportfs: /.test(l) && !/Failed to stat|Neither 'subtree_check'/.test(l))
      .map((l) => l.replace('/etc/exports', OWNED_PATHS.kernelExports))
    const etab = result.stdout.split('--etab--')[1] ?? ''
    if (/\t\*\(/.test(etab) || /^\S+\s+\*\(/m.test(etab)) problems.push('an entry would export to the world (*)')
    if (!result.stdout.includes('--etab--')) problems.push(`exportfs could not be run: ${result.stderr.trim().split('\n').slice(-2).join(' | ')}`)
    if (problems.length > 0) throw new ValidationError(`exportfs rejects the generated exports: ${problems.slice(0, 4).join(' | ')}`, 'nothing was written; fix the export it names')
  } finally {
    await fs.rm(dir, {recursive: true, force: true})
  }
}
