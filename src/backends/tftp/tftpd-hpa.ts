import {renderTftpdDefault} from '../../render/tftpd.js'
import {type ServiceBackend} from '../types.js'

export const TFTPD_DEFAULT = '/etc/default/tftpd-hpa'

/** tftpd-hpa: its Debian defaults file, pointing it at the site's tftp root with --secure. */
export const tftpdHpa: ServiceBackend = {
  kind: 'tftp',
  name: 'tftpd-hpa',
  label: 'tftpd-hpa',
  daemon: 'in.tftpd',
  packages: ['tftpd-hpa'],
  unit: 'tftpd-hpa',
  paths: [TFTPD_DEFAULT],
  adminFiles: [],
  files: (model) => [{path: TFTPD_DEFAULT, content: renderTftpdDefault(model.site), mode: 0o644}],
  retire: () => [],
  reload: () => [{command: 'systemctl', args: ['try-restart', 'tftpd-hpa.service']}],
}
