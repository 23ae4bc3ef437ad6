import {ganeshaIncludeLine, renderGaneshaExports, renderGaneshaMain} from '../../render/nfs/ganesha.js'
import {includeIn, includeRetired, type IncludeEdit} from '../include.js'
import {systemctl} from '../systemctl.js'
import {type Command, type ReloadCause, type ServiceBackend} from '../types.js'
import {checkGanesha} from './ganesha-check.js'
import {ganeshaLab} from './ganesha-lab.js'
import {bindRootsForGanesha, rootMountUnits} from './root-mounts.js'

export const GANESHA_PATHS = {
  exports: '/etc/ganesha/pxeroot.conf',
  main: '/etc/ganesha/ganesha.conf',
} as const

/** ganesha.conf is the admin's; a server that has none gets a minimal one for NFSv3 roots. */
const mainInclude: IncludeEdit = {path: GANESHA_PATHS.main, line: ganeshaIncludeLine(GANESHA_PATHS.exports), fresh: () => renderGaneshaMain(GANESHA_PATHS.exports)}

/**
 * A reload (SIGHUP) rereads the export file but keeps an export whose block did not change on the
 * directory it opened at start, so a root switched under the same path (rebase, rollback) would
 * be served from the old tree, even once deleted. Each such export is first removed over D-Bus
 * (Ganesha's own ExportMgr, what ganesha_mgr calls; nothing to do when Ganesha is not running or
 * does not have it), then the reload adds it again from the file, on the new root.
 */
export function ganeshaReload({switched = []}: ReloadCause): Command[] {
  const remove = (id: number): Command => ({
    command: 'dbus-send',
    args: ['--system', '--print-reply', '--dest=org.ganesha.nfsd', '/org/ganesha/nfsd/ExportMgr', 'org.ganesha.nfsd.exportmgr.RemoveExport', `uint16:${id}`],
    // Ganesha 4.3's answers when it is not on the bus, or does not have the export.
    nothingToDo: /ServiceUnknown|NameHasNoOwner|Export id not found/,
  })
  return [...switched.map((r) => remove(r.exportId)), systemctl('try-reload-or-restart', 'nfs-ganesha.service')]
}

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
  reload: ganeshaReload,
  lab: (env) => ganeshaLab(env, GANESHA_PATHS),
  prepare: bindRootsForGanesha,
}
