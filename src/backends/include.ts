import {withLine, withoutLine} from '../render/header.js'
import {type AdminTexts, type DesiredFile} from './types.js'

/** A file an admin owns in which pxeroot keeps one line (an include of its own file). */
export interface IncludeEdit {
  path: string
  line: string
  /** What a server that has no such file gets. */
  fresh: () => string
}

/** The admin's file with the line added once, or a fresh one; never removed (edited). */
export function includeIn(admin: AdminTexts, e: IncludeEdit): DesiredFile {
  const text = admin.get(e.path)
  return {path: e.path, content: text === undefined ? e.fresh() : withLine(text, e.line), mode: 0o644, edited: true}
}

/** The admin's file with the line taken out again, once another backend of its kind is active. */
export function includeRetired(admin: AdminTexts, e: Pick<IncludeEdit, 'path' | 'line'>): DesiredFile[] {
  const text = admin.get(e.path)
  return text === undefined ? [] : [{path: e.path, content: withoutLine(text, e.line), mode: 0o644, edited: true}]
}
