import {ganeshaIncludeLine, renderGaneshaExports, renderGaneshaMain} from '../../render/nfs/ganesha.js'
import {includeIn, includeRetired, type IncludeEdit} from '../include.js'
import {type ServiceBackend} from '../types.js'
import {checkGanesha} from './ganesha-check.js'
import {ganeshaLab} from './ganesha-lab.js'
import {bindRootsForGanesha, rootMountUnits} from './root-mounts.js'

export const GANESHA_PATHS = {
  exports: '/etc/ganesha/pxeroot.conf',
  main: '/etc/ganesha/ganesha.conf',
} as const

/** ganesha.conf is the admin's; a server that has none gets a minimal one for NFSv3 roots. */
const mainInclude: IncludeEdit = {path: GANESHA_PATHS.main, line: ganeshaIncludeLine(GANESHA_PATHS.exports), fresh: () => renderGaneshaMain(GANESHA_PATHS.exports)}

/** NFS-Ganesha: pxeroot owns an export file and keeps one %include line in the admin's ganesha.conf. */
export const nfsGanesha: ServiceBackend = {
  kind: 'nfs',
  name: 'ganesha',
  label: 'NFS-Ganesha',
  daemon: 'ganesha.nfsd',
  packages: ['nfs-ganesha', 'nfs-ganesha-vfs', 'rpcbind'],
  unit: 'nfs-ganesha',
  paths: [GANESHA_PATHS.exports, GANESHA_PATHS.main],
  adminFiles: [GANESHA_PATHS.main],
  files: (model, admin) => [
    {path: GANESHA_PATHS.exports, content: renderGaneshaExports(model.site, model.nodes), mode: 0o644},
    includeIn(admin, mainInclude),
    ...rootMountUnits(model),
  ],
  retire: (admin) => includeRetired(admin, mainInclude),
  check: (ctx, candidate) => checkGanesha(ctx, {main: candidate.text(GANESHA_PATHS.main)!, exports: candidate.text(GANESHA_PATHS.exports)!}, GANESHA_PATHS),
  reload: () => [{command: 'systemctl', args: ['try-reload-or-restart', 'nfs-ganesha.service']}],
  lab: (env) => ganeshaLab(env, GANESHA_PATHS),
  prepare: bindRootsForGanesha,
}
