import {type SiteModel} from '../../config/site.js'
import {header} from '../header.js'
import {IPXE_DIR} from '../loaders/ipxe.js'

/** The tftp root's folders the web server serves: published kernels and initrds, and the iPXE scripts. */
export const SERVED_DIRS = ['pxeroot', IPXE_DIR] as const

const q = (s: string) => JSON.stringify(s)

/**
 * pxeroot's lighttpd drop-in. It makes the whole server pxeroot's: Debian's lighttpd is one
 * process with one document root, and its package starts a placeholder site on every address.
 * `:=` replaces what lighttpd.conf set before it (a plain `=` would be a duplicate and refused).
 * Every rule is an access rule (mod_access), so it holds whatever other enabled snippets add:
 * - only the boot network: the address binding keeps the server off other interfaces, but a
 *   client routed to the boot address (the server is often the boot network's router) would
 *   still reach it; the client-address rule is what limits who is served;
 * - only the boot files, only read, never a directory: a URL ending in "/" is refused, so no
 *   listing can be served even where another snippet turns mod_dirlisting on. Not
 *   `dir-listing.activate = "disable"`: listings are off by default, and lighttpd 1.4.69 logs
 *   that setting as an ignored unknown key unless a snippet loads the module.
 * Symlinks are followed (lighttpd's default): its `follow-symlink = "disable"` refuses every
 * file when the document root itself is reached through a link, and the served folders hold
 * only copies pxeroot wrote.
 */
export function renderLighttpdDropIn(site: Pick<SiteModel, 'server' | 'subnet' | 'paths' | 'boot'>): string {
  return [
    header('#'),
    `# The boot files of ${site.paths.tftp} for iPXE: /pxeroot/ (kernels, initrds) and /${IPXE_DIR}/ (scripts).`,
    `server.document-root := ${q(site.paths.tftp)}`,
    `server.bind := ${q(site.server)}`,
    `server.port := ${site.boot.httpPort}`,
    '# Only machines on the boot network.',
    `$HTTP["remoteip"] != ${q(site.subnet)} { url.access-deny = ("") }`,
    '# Only files under the boot folders (never a directory, so never a listing), only read.',
    `$HTTP["url"] !~ ${q(`^/(${SERVED_DIRS.join('|')})/.*[^/]$`)} { url.access-deny = ("") }`,
    '$HTTP["request-method"] !~ "^(GET|HEAD)$" { url.access-deny = ("") }',
  ].join('\n') + '\n'
}

export interface LighttpdMainOptions {
  /** The file or glob it includes (the drop-in, or the enabled snippets). */
  include: string
  /** Absent: lighttpd writes none. */
  pidFile?: string
  /** Absent: lighttpd logs to stderr. */
  errorLog?: string
  /** Access log (what a node fetched), when wanted. */
  accessLog?: string
  /** Its format, when not lighttpd's default (the lab's carries each request's end and duration). */
  accessLogFormat?: string
}

/**
 * A lighttpd.conf holding what Debian's has that pxeroot's drop-in relies on (mod_access, the
 * www-data user), for a server where lighttpd runs outside its package's config: the check on
 * a --root that has no /etc/lighttpd, the boot-storm benchmark, the lab.
 */
export function renderLighttpdMain(o: LighttpdMainOptions): string {
  const modules = ['mod_access', ...(o.accessLog ? ['mod_accesslog'] : []), 'mod_staticfile']
  return [
    header('#'),
    `server.modules = (${modules.map(q).join(', ')})`,
    'server.document-root = "/var/www/html"',
    'server.port = 80',
    'server.username = "www-data"',
    'server.groupname = "www-data"',
    ...(o.pidFile ? [`server.pid-file = ${q(o.pidFile)}`] : []),
    ...(o.errorLog ? [`server.errorlog = ${q(o.errorLog)}`] : []),
    ...(o.accessLog ? [`accesslog.filename = ${q(o.accessLog)}`] : []),
    ...(o.accessLog && o.accessLogFormat ? [`accesslog.format = ${q(o.accessLogFormat)}`] : []),
    `include ${q(o.include)}`,
  ].join('\n') + '\n'
}
