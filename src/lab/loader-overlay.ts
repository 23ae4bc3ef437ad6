import {grubBootFilesOf, labGrubNode} from './grub.js'
import {ipxeBootFilesOf, labIpxeScript} from './ipxe.js'
import {type BootTarget} from './milestones.js'
import {bootFilesOf, labPxelinux} from './pxelinux.js'

/** The lab's private copy of a node's loader file, and the kernel and initrd that file really names. */
export interface LoaderCopy {
  text: string
  kernel?: string
  initrd?: string
}

/** What --keep-logs calls a node's copy: <node>.<suffix>. */
export const loaderCopySuffix = (target: Pick<BootTarget, 'uefi' | 'transport'>): string => (target.uefi ? 'grub.cfg' : target.transport === 'http' ? 'ipxe' : 'pxelinux.cfg')

/**
 * The lab's whole delta to a node's own loader file (README "The lab"): its kernel command
 * line gains the serial console and the identity unit, in pxelinux's APPEND, GRUB's `linux` or
 * iPXE's `kernel`.
 */
export function labLoaderCopy(target: Pick<BootTarget, 'uefi' | 'transport'>, text: string): LoaderCopy {
  if (target.uefi) return {text: labGrubNode(text), ...grubBootFilesOf(text)}
  if (target.transport === 'http') return {text: labIpxeScript(text), ...ipxeBootFilesOf(text)}
  return {text: labPxelinux(text), ...bootFilesOf(text)}
}
