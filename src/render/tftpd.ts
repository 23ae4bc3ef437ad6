import {type SiteModel} from '../config/site.js'
import {header} from './header.js'

/** /etc/default/tftpd-hpa as the classic recipe has it: --secure chroots into the tftp root. */
export function renderTftpdDefault(site: SiteModel): string {
  return [
    header('#'),
    'TFTP_USERNAME="tftp"',
    `TFTP_DIRECTORY="${site.paths.tftp}"`,
    'TFTP_ADDRESS="0.0.0.0:69"',
    'TFTP_OPTIONS="--secure"',
  ].join('\n') + '\n'
}
