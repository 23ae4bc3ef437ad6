import {grubBootFilesOf, labGrubNode} from './grub.js'
import {type BootTarget} from './milestones.js'
import {bootFilesOf, labPxelinux} from './pxelinux.js'

/** The lab's private copy of a node's loader file, and the kernel and initrd that file really names. */
export interface LoaderCopy {
  text: string
  kernel?: string
  initrd?: string
}

/** What --keep-logs calls a node's copy: <node>.<suffix>. */
export const loaderCopySuffix = (target: Pick<BootTarget, 'uefi'>): string => (target.uefi ? 'grub.cfg' : 'pxelinux.cfg')

/**
 * The lab's whole delta to a node's own loader file (README "The lab"): its kernel command
 * line gains the serial console and the identity unit, in pxelinux's APPEND or GRUB's `linux`.
 */
export function labLoaderCopy(target: Pick<BootTarget, 'uefi'>, text: string): LoaderCopy {
  return target.uefi
    ? {text: labGrubNode(text), ...grubBootFilesOf(text)}
    : {text: labPxelinux(text), ...bootFilesOf(text)}
}
