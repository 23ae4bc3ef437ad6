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
 * The lab's NFS-Ganesha config. Each node root is exported at its disk path and mounted by its
 * host path: Mount_Path_Pseudo makes NFSv3 MOUNT look exports up by Pseudo, so the nodes' own
 * nfsroot= works unchanged under --root. NFSv3 + MOUNT only matter (klibc nfsmount speaks v2/v3
 * and mounts with nolock); no grace period, no NLM. MOUNT requests are logged for the milestones.
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
