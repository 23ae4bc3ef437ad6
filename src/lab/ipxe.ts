import {LAB_KERNEL_ARGS} from './pxelinux.js'

/** The node's iPXE script with the lab's kernel arguments appended to its `kernel` line: the whole delta of the lab's copy; pure. */
export function labIpxeScript(text: string, extra = LAB_KERNEL_ARGS): string {
  return text.split('\n').map((line) => (/^\s*kernel\s/.test(line) ? `${line.trimEnd()} ${extra}` : line)).join('\n')
}

/** The URL's path without its leading "/": where the file is under the document root. */
function served(url: string | undefined): string | undefined {
  if (!url) return undefined
  try {
    return decodeURI(new URL(url).pathname).replace(/^\/+/, '')
  } catch {
    return undefined
  }
}

/** The kernel and initrd a node's iPXE script fetches, relative to the web server's document root (the tftp root). */
export function ipxeBootFilesOf(text: string): {kernel?: string, initrd?: string} {
  const url = (command: string) => new RegExp(`^\\s*${command}\\s+(\\S+)`, 'm').exec(text)?.[1]
  return {kernel: served(url('kernel')), initrd: served(url('initrd'))}
}
