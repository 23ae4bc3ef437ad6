import {ValidationError} from '../../errors.js'
import {renderKernelExports} from '../../render/nfs/exports.js'
import {type Context} from '../../system/context.js'
import {withTempDir} from '../../system/files.js'
import {runIsolated} from '../../system/isolate.js'
import {type ServiceBackend} from '../types.js'

export const KERNEL_EXPORTS = '/etc/exports.d/pxeroot.exports'

/**
 * Checks the candidate exports with the real exportfs, in private mount and network namespaces:
 * the candidate is bound over /etc/exports, the export table (/var/lib/nfs) is a throwaway
 * tmpfs, and the sunrpc caches and nfsd are the new network namespace's, so the live server's
 * exports are never touched. exportfs stops reading a file at a bad line and turns a space
 * before "(" into an export to the world; both are refused here.
 */
export async function checkExports(ctx: Pick<Context, 'runner' | 'files' | 'signal'>, exportsText: string): Promise<void> {
  await withTempDir(ctx.files, 'pxeroot-exports-', async (dir) => {
    const file = await dir.write('candidate.exports', exportsText)
    const result = await runIsolated(ctx.runner, {binds: [[file, '/etc/exports']], tmpfs: ['/etc/exports.d', '/var/lib/nfs', '/proc/fs/nfsd'], network: true},
      ['sh', '-c', 'exportfs -ra; echo "--etab--"; cat /var/lib/nfs/etab'], {reject: false, timeout: 30_000, cancelSignal: ctx.signal})
    const problems = result.stderr.split('\n').map((l) => l.trim())
      .filter((l) => /^exportfs: /.test(l) && !/Failed to stat|Neither 'subtree_check'/.test(l))
      .map((l) => l.replace('/etc/exports', KERNEL_EXPORTS))
    const etab = result.stdout.split('--etab--')[1] ?? ''
    if (/\t\*\(/.test(etab) || /^\S+\s+\*\(/m.test(etab)) problems.push('an entry would export to the world (*)')
    if (!result.stdout.includes('--etab--')) problems.push(`exportfs could not be run: ${result.stderr.trim().split('\n').slice(-2).join(' | ')}`)
    if (problems.length > 0) throw new ValidationError(`exportfs rejects the generated exports: ${problems.slice(0, 4).join(' | ')}`, 'nothing was written; fix the export it names')
  })
}

/** nfs-kernel-server: pxeroot owns one drop-in under /etc/exports.d. */
export const kernelNfs: ServiceBackend = {
  kind: 'nfs',
  name: 'kernel',
  label: 'nfs-kernel-server',
  daemon: 'exportfs',
  packages: ['nfs-kernel-server'],
  unit: 'nfs-kernel-server',
  paths: [KERNEL_EXPORTS],
  adminFiles: [],
  files: (model) => [{path: KERNEL_EXPORTS, content: renderKernelExports(model.site, model.nodes), mode: 0o644}],
  retire: () => [],
  check: (ctx, candidate) => checkExports(ctx, candidate.text(KERNEL_EXPORTS)!),
  // A restart of nfs-kernel-server would start a grace period that stalls every node mounted from it.
  reload: () => [{command: 'exportfs', args: ['-ra']}],
}
