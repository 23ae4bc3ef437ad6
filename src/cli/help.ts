import {type Command, Help} from '@oclif/core'

/**
 * Paragraphs as prose: the lines of a paragraph are joined, so oclif wraps them at the terminal's
 * width instead of keeping the line breaks of the source. Paragraphs with indented lines (the exit
 * code table, lists) are kept as written.
 */
export function reflow(text: string | undefined): string | undefined {
  if (text === undefined) return undefined
  return text.split('\n\n').map((paragraph) => {
    const lines = paragraph.split('\n')
    return lines.some((line, i) => i > 0 && /^\s/.test(line)) ? paragraph : lines.map((l) => l.trim()).join(' ')
  }).join('\n\n')
}

/** oclif's help, with every command's description reflowed (see reflow). */
export default class PxerootHelp extends Help {
  getCommandHelpClass(command: Command.Loadable) {
    return super.getCommandHelpClass({...command, description: reflow(command.description)} as Command.Loadable)
  }
}
