import {grubKernelWord, kernelWords} from '../render/loaders/grub.js'
import {LAB_KERNEL_ARGS} from './pxelinux.js'
import {tftpPath} from './tftp.js'

/**
 * The lab's kernel arguments as GRUB words that reach the kernel as pxelinux's APPEND passes them.
 * GRUB backslash-escapes a double quote in an argument, so the identity unit's quoted
 * systemd.run="..." goes in as one single-quoted word, which GRUB hands on double-quoted whole:
 * the same parameter and value for the kernel and for systemd.
 */
export function labGrubArgs(extra = LAB_KERNEL_ARGS): string {
  return kernelWords(extra).map((word) => {
    const grub = grubKernelWord(word)
    if (grub === undefined) throw new Error(`internal: the lab's kernel argument ${word} cannot pass through GRUB unchanged`)
    return grub
  }).join(' ')
}

const LINUX = /^(\s*linux\s.*?)\s*$/

/** The node's GRUB file with the lab's arguments appended to every `linux` line, and nothing else changed; pure. */
export function labGrubNode(text: string, extra = labGrubArgs()): string {
  return text.split('\n').map((line) => line.replace(LINUX, `$1 ${extra}`)).join('\n')
}

/** A path word of a GRUB command (pxeroot writes them bare or single-quoted), relative to the tftp root. */
const pathWord = (word: string) => tftpPath(word.replace(/^'(.*)'$/, '$1'))

/** The kernel and initrd a node's GRUB file has it load (its first entry), relative to the tftp root. */
export function grubBootFilesOf(text: string): {kernel?: string, initrd?: string} {
  const out: {kernel?: string, initrd?: string} = {}
  for (const line of text.split('\n')) {
    const m = /^\s*(linux|initrd)\s+('[^']*'|\S+)/.exec(line)
    if (!m) continue
    if (m[1] === 'linux') out.kernel ??= pathWord(m[2])
    else out.initrd ??= pathWord(m[2])
  }
  return out
}
