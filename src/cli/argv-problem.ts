import {closest} from '../config/suggest.js'

/** What oclif's parse errors carry besides their message. */
interface ParseError extends Error {
  /** NonExistentFlagsError: the flags as typed. */
  flags?: string[]
  /** RequiredArgsError: the missing args; UnexpectedArgsError: the extra words. */
  args?: ({name: string, description?: string} | string)[]
}

/**
 * An argv problem as one line in pxeroot's words: oclif's own messages span lines (a list of
 * args, "See more help with --help") and carry colour codes.
 */
export function argvProblem(error: ParseError, knownFlags: readonly string[]): string {
  switch (error.constructor.name) {
    case 'NonExistentFlagsError': {
      const typed = error.flags ?? []
      const guess = typed.length === 1 ? closest(typed[0].replace(/^-+/, '').split('=')[0], knownFlags) : undefined
      return `unknown flag${typed.length === 1 ? '' : 's'} ${typed.join(', ')}${guess ? `; did you mean --${guess}?` : ''}`
    }
    case 'RequiredArgsError':
      return (error.args ?? []).map((a) => (typeof a === 'string' ? a : `missing argument ${a.name.toUpperCase()}${a.description ? `: ${a.description}` : ''}`)).join('; ')
    case 'UnexpectedArgsError': {
      const words = (error.args ?? []).map(String)
      return `unexpected argument${words.length === 1 ? '' : 's'} ${words.join(' ')}`
    }
    default:
      return error.message.replaceAll(/\x1b\[[0-9;]*m/g, '').split('\n').map((l) => l.trim())
        .filter((l) => l && l !== 'See more help with --help' && !/^The following errors? occurred:$/.test(l)).join('; ')
  }
}
