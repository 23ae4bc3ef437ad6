import path from 'node:path'

import {type LabDaemon, type LabEnv} from '../backends/types.js'
import {ganeshaExportBlock} from '../render/nfs/ganesha.js'

/** A node root as the lab exports it. */
export interface LabExport {
  exportId: number
  /** The host path the node mounts (what its pxelinux entry names). */
  rootPath: string
  /** Where that root is on disk (under --root). */
  diskPath: string
  client: string
}

const q = (s: string) => `"${s}"`

/**
 * The lab's own NFS-Ganesha config, for a site whose NFS server the lab cannot run (the kernel
 * server: no kernel nfsd in a lab namespace), built from the boot model rather than from a
 * generated file. Each node root is exported at its disk path and mounted by its host path:
 * Mount_Path_Pseudo makes NFSv3 MOUNT look exports up by Pseudo, so the nodes' own nfsroot=
 * works unchanged under --root. NFSv3 + MOUNT only matter (klibc nfsmount speaks v2/v3 and
 * mounts with nolock); no grace period, no NLM. MOUNT requests are logged for the milestones.
 */
export function labGaneshaConfig(server: string, recoveryDir: string, exports: readonly LabExport[]): string {
  const lines = [
    '# pxeroot lab: NFS-Ganesha for one lab run, inside its own network namespace.',
    'NFS_CORE_PARAM {',
    `  Bind_Addr = ${server};`,
    '  Protocols = 3, 4;',
    '  Enable_NLM = false;',
    '  Enable_RQUOTA = false;',
    '  Mount_Path_Pseudo = true;',
    '}',
    'NFSV4 {',
    '  Graceless = true;',
    `  RecoveryRoot = ${q(recoveryDir)};`,
    '}',
    'LOG {',
    '  Default_Log_Level = EVENT;',
    // MNT requests and their outcome are logged by this component at DEBUG.
    '  COMPONENTS { NFSPROTO = DEBUG; }',
    '}',
  ]
  for (const e of exports) {
    lines.push(...ganeshaExportBlock({id: e.exportId, path: e.diskPath, pseudo: e.rootPath, clients: e.client, access: 'RW', squash: 'No_Root_Squash'}))
  }
  return lines.join('\n') + '\n'
}

/** NFS-Ganesha on labGaneshaConfig, run the way the Ganesha backend's lab hook runs it. */
export function modelGaneshaLab(env: Pick<LabEnv, 'runDir' | 'server'>, exports: readonly LabExport[]): LabDaemon {
  const file = (name: string) => path.join(env.runDir, name)
  return {
    files: [{name: 'ganesha.conf', content: labGaneshaConfig(env.server, file('ganesha-recovery'), exports)}],
    dirs: ['ganesha-recovery'],
    program: 'ganesha.nfsd',
    args: ['-F', '-L', file('ganesha.log'), '-f', file('ganesha.conf'), '-p', file('ganesha.pid')],
    log: file('ganesha.log'),
    ready: 'NFS SERVER INITIALIZED',
    logsItself: true,
  }
}
