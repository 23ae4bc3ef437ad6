import path from 'node:path'

import {header} from '../header.js'

/** Where the units pxeroot owns live (the admin's unit directory, which outranks the packages'). */
export const SYSTEMD_UNIT_DIR = '/etc/systemd/system'

/** Characters systemd leaves as they are in an escaped unit name (unit-name.c VALID_CHARS). */
const PLAIN = /[A-Za-z0-9:_.]/

/**
 * `systemd-escape --path`: the unit name systemd requires for a mount at `p` (a mount unit must
 * be named after its Where=). Slashes become "-", and "-", a leading ".", and anything outside
 * [A-Za-z0-9:_.] become \xNN; "/" itself is "-". Pure.
 */
export function systemdEscapePath(p: string): string {
  const simple = path.posix.normalize(p).replace(/^\/+|\/+$/g, '')
  if (simple === '') return '-'
  let out = ''
  for (const [i, ch] of [...simple].entries()) {
    if (ch === '/') out += '-'
    else if (PLAIN.test(ch) && !(i === 0 && ch === '.')) out += ch
    else out += [...Buffer.from(ch, 'utf8')].map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('')
  }
  return out
}

/** The name of the mount unit of a mount point: srv-nodes-node01.mount. */
export function mountUnitName(where: string): string {
  return `${systemdEscapePath(where)}.mount`
}

/** The host path of the mount unit file of a mount point. */
export function mountUnitPath(where: string): string {
  return path.posix.join(SYSTEMD_UNIT_DIR, mountUnitName(where))
}

export interface MountUnit {
  what: string
  where: string
  /** Filesystem type; "none" for a bind mount. */
  type: string
  options?: string
  description: string
  /** Why the mount exists, as a comment for the admin who finds the file. */
  why: string
  /** Units this mount must be in place before (it is ordered Before= them). */
  before?: readonly string[]
  /** Units this mount needs running first (Requires= and After= them). */
  requires?: readonly string[]
}

/** What the header of a unit tells the admin who finds it: the command that writes it. */
export type UnitWriter = 'apply' | 'storage prepare'

function unitHeader(by: UnitWriter): string {
  return by === 'apply' ? header('#') : header('#', 'pxeroot', `Do not edit: written by "pxeroot ${by}".`)
}

/** A .mount unit. Not enabled by an [Install] section: a drop-in of the unit that needs it wants it (see renderWantsDropIn). */
export function renderMountUnit(unit: MountUnit, by: UnitWriter = 'apply'): string {
  return [
    unitHeader(by),
    `# ${unit.why}`,
    '[Unit]',
    `Description=${unit.description}`,
    ...(unit.before && unit.before.length > 0 ? [`Before=${unit.before.join(' ')}`] : []),
    ...(unit.requires && unit.requires.length > 0 ? [`Requires=${unit.requires.join(' ')}`, `After=${unit.requires.join(' ')}`] : []),
    '',
    '[Mount]',
    `What=${unit.what}`,
    `Where=${unit.where}`,
    `Type=${unit.type}`,
    ...(unit.options ? [`Options=${unit.options}`] : []),
  ].join('\n') + '\n'
}

/**
 * A drop-in (`<unit>.d/<name>.conf`) that makes a unit want, and start after, the given units:
 * the dependency [Install] WantedBy= would make, but as a plain file pxeroot writes and removes,
 * without `systemctl enable` symlinks. Wants=, not Requires=: one mount that fails does not keep
 * the unit (and every other node) from starting.
 */
export function renderWantsDropIn(why: string, units: readonly string[], by: UnitWriter = 'apply'): string {
  return [
    unitHeader(by),
    `# ${why}`,
    '[Unit]',
    `Wants=${units.join(' ')}`,
    `After=${units.join(' ')}`,
  ].join('\n') + '\n'
}

/** The host path of a drop-in of `unit`. */
export function dropInPath(unit: string, name: string): string {
  return path.posix.join(SYSTEMD_UNIT_DIR, `${unit}.d`, `${name}.conf`)
}
