import path from 'node:path'

import {PreconditionError} from '../../errors.js'
import {type LabDaemon, type LabEnv} from '../types.js'
import {mapGaneshaExportPaths, mapGaneshaIncludes, setGaneshaParam} from './ganesha-conf.js'

/** The lab's copies of the generated files, in its run directory. */
export const GANESHA_LAB_FILES = {main: 'ganesha.conf', exports: 'ganesha-pxeroot.conf', log: 'ganesha.log', recovery: 'ganesha-recovery'} as const

/**
 * NFS-Ganesha as the lab runs it, on the generated ganesha.conf and export file. The whole delta
 * (README, "The lab"): its NFSv4 recovery state in the run directory; MOUNT requests logged
 * (NFSPROTO at DEBUG), which the milestones read; and, only when --root is not "/", each
 * EXPORT's Path rewritten to where the root is on disk, its Pseudo kept (the host path the node
 * mounts) and Mount_Path_Pseudo set so that NFSv3 MOUNT finds exports by Pseudo, with the
 * %include lines pointing at the lab's copy and at disk paths. Each parameter is added as the
 * last of its existing block: a repeated block would reset the admin's others to defaults.
 */
export function ganeshaLab(env: LabEnv, paths: {main: string, exports: string}): LabDaemon {
  const main = env.generated.get(paths.main)
  const exports = env.generated.get(paths.exports)
  if (main === undefined || exports === undefined) {
    throw new PreconditionError(`no NFS-Ganesha configuration at ${main === undefined ? paths.main : paths.exports}`, 'run "pxeroot apply" first')
  }
  const file = (name: string) => path.join(env.runDir, name)
  const files: LabDaemon['files'] = []
  let conf = main
  if (!env.root.isHost) {
    files.push({name: GANESHA_LAB_FILES.exports, content: mapGaneshaExportPaths(exports, (p) => env.root.resolve(p))})
    conf = mapGaneshaIncludes(conf, (p) => (p === paths.exports ? file(GANESHA_LAB_FILES.exports) : env.root.resolve(p)))
    conf = setGaneshaParam(conf, ['NFS_CORE_PARAM'], 'Mount_Path_Pseudo', 'true')
  }
  conf = setGaneshaParam(conf, ['NFSV4'], 'RecoveryRoot', `"${file(GANESHA_LAB_FILES.recovery)}"`)
  conf = setGaneshaParam(conf, ['LOG', 'COMPONENTS'], 'NFSPROTO', 'DEBUG')
  files.push({name: GANESHA_LAB_FILES.main, content: conf})
  return {
    files,
    dirs: [GANESHA_LAB_FILES.recovery],
    program: 'ganesha.nfsd',
    args: ['-F', '-L', file(GANESHA_LAB_FILES.log), '-f', file(GANESHA_LAB_FILES.main), '-p', file('ganesha.pid')],
    log: file(GANESHA_LAB_FILES.log),
    ready: 'NFS SERVER INITIALIZED',
    logsItself: true,
  }
}
