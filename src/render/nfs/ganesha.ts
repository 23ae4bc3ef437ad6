import {EXTRA_EXPORT_ID_BASE} from '../../config/export-ids.js'
import {type SiteModel} from '../../config/site.js'
import {header} from '../header.js'
import {type BootNode} from '../../boot/model.js'
import {nfsNodes} from '../../boot/nodes.js'

const q = (s: string) => `"${s}"`

export interface GaneshaExport {
  id: number
  /** The directory on the server's disk. */
  path: string
  /** What clients mount; the same as path except where the lab serves a --root tree. */
  pseudo?: string
  clients: string
  access: 'RW' | 'RO'
  squash: 'No_Root_Squash' | 'Root_Squash'
}

export function ganeshaExportBlock(e: GaneshaExport): string[] {
  return [
    'EXPORT {',
    `  Export_Id = ${e.id};`,
    `  Path = ${q(e.path)};`,
    `  Pseudo = ${q(e.pseudo ?? e.path)};`,
    '  Protocols = 3, 4;',
    '  Transports = TCP, UDP;',
    '  SecType = sys;',
    // Nobody but the listed clients may mount it.
    '  Access_Type = None;',
    '  FSAL { Name = VFS; }',
    `  CLIENT { Clients = ${e.clients}; Access_Type = ${e.access}; Squash = ${e.squash}; }`,
    '}',
  ]
}


/** The NFS-Ganesha exports pxeroot owns: the same semantics as the kernel exports file. */
export function renderGaneshaExports(site: SiteModel, nodes: readonly BootNode[]): string {
  const lines = [header('#'), '']
  for (const node of nfsNodes(nodes)) {
    lines.push(`# ${node.name}`, ...ganeshaExportBlock({id: node.exportId, path: node.rootPath, clients: node.ip, access: 'RW', squash: 'No_Root_Squash'}), '')
  }
  site.exports.forEach((extra, i) => {
    const options = extra.options.split(',')
    lines.push(...ganeshaExportBlock({id: EXTRA_EXPORT_ID_BASE + i, path: extra.path, clients: extra.clients,
      access: options.includes('ro') ? 'RO' : 'RW', squash: options.includes('no_root_squash') ? 'No_Root_Squash' : 'Root_Squash'}), '')
  })
  return lines.join('\n').trimEnd() + '\n'
}

export function ganeshaIncludeLine(includePath: string): string {
  return `%include ${q(includePath)}`
}

/** A minimal ganesha.conf for NFSv3 roots: initramfs-tools' nfsmount speaks v2/v3 only and mounts with nolock. */
export function renderGaneshaMain(includePath: string): string {
  return [
    header('#', 'pxeroot', 'Yours to edit: pxeroot only keeps the %include line below.'),
    'NFS_CORE_PARAM {',
    '  Protocols = 3, 4;',
    '  Enable_NLM = false;',
    '}',
    'NFSV4 {',
    // Node roots are exported to one client each: no state worth a 90 s grace period after a restart.
    '  Graceless = true;',
    '}',
    '',
    ganeshaIncludeLine(includePath),
  ].join('\n') + '\n'
}

