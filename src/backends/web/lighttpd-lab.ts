import path from 'node:path'

import {PreconditionError} from '../../errors.js'
import {renderLighttpdMain} from '../../render/web/lighttpd.js'
import {type LabDaemon, type LabEnv, type LabFetch} from '../types.js'

/** The lab's files in the run directory. */
export const LIGHTTPD_LAB_FILES = {main: 'lighttpd.conf', log: 'lighttpd.log', access: 'lighttpd-access.log', pid: 'lighttpd.pid'} as const

/**
 * The access log as the lab reads it: client, the request's end (seconds and milliseconds),
 * how long it took (ms), the request line, status and body bytes. lighttpd allows one strftime
 * timestamp per format, so the start is the end minus the duration.
 */
export const LAB_ACCESS_FORMAT = '%h %{end:sec}t %{end:msec_frac}t %{ms}T "%r" %>s %b'

const ACCESS_LINE = /^(\S+) (\d+) (\d+) (\d+) "(?:GET|HEAD) (\S+) [^"]*" (\d{3}) (\d+|-)$/gm

/** The files an access log in LAB_ACCESS_FORMAT shows sent, in order. */
export function lighttpdFetches(log: string): LabFetch[] {
  return [...log.matchAll(ACCESS_LINE)].map((m) => {
    const ended = Number(m[2]) * 1000 + Number(m[3])
    return {client: m[1], path: decodeURI(m[5].split('?')[0]), status: Number(m[6]), bytes: m[7] === '-' ? 0 : Number(m[7]), began: ended - Number(m[4]), ended}
  })
}

/**
 * lighttpd as the lab runs it: a main config of the lab's, with what Debian's lighttpd.conf
 * gives the drop-in (mod_access, the www-data user), that includes the generated drop-in where
 * it is on disk. The whole delta (README, "The lab"): pid file, error log and access log (in
 * the lab's format, for the milestones) in the run directory, and the document root the lab's
 * overlay of the tftp root (on disk under --root), where the nodes' scripts carry the lab's
 * kernel arguments; the drop-in's address, port and access rules hold as generated. lighttpd
 * opens its logs after it has become www-data, so the lab creates them writable by it.
 */
export function lighttpdLab(env: LabEnv, dropInPath: string): LabDaemon {
  if (env.generated.get(dropInPath) === undefined) throw new PreconditionError(`no lighttpd configuration at ${dropInPath}`, 'run "pxeroot apply" first')
  if (!env.tftpRoot) throw new Error('internal: the lab serves HTTP from its overlay of the tftp root, and gave none')
  const file = (name: string) => path.join(env.runDir, name)
  const main = renderLighttpdMain({
    include: env.root.resolve(dropInPath),
    pidFile: file(LIGHTTPD_LAB_FILES.pid),
    errorLog: file(LIGHTTPD_LAB_FILES.log),
    accessLog: file(LIGHTTPD_LAB_FILES.access),
    accessLogFormat: LAB_ACCESS_FORMAT,
  }) + [
    '# pxeroot lab: the tftp root as the lab serves it (its overlay, with its copies of the nodes\' scripts).',
    `server.document-root := ${JSON.stringify(env.tftpRoot)}`,
  ].join('\n') + '\n'
  return {
    files: [
      {name: LIGHTTPD_LAB_FILES.main, content: main},
      {name: LIGHTTPD_LAB_FILES.log, content: '', mode: 0o666},
      {name: LIGHTTPD_LAB_FILES.access, content: '', mode: 0o666},
    ],
    program: 'lighttpd',
    args: ['-D', '-f', file(LIGHTTPD_LAB_FILES.main)],
    log: file(LIGHTTPD_LAB_FILES.log),
    ready: 'server started',
    logsItself: true,
    access: {log: file(LIGHTTPD_LAB_FILES.access), fetches: lighttpdFetches},
  }
}
