import {promises as fs} from 'node:fs'
import path from 'node:path'

import {type Files} from '../system/files.js'

/**
 * How a node proves it booted: a unit in every image writes, once the node has reached
 * multi-user.target, the revision its kernel command line names (pxeroot.revision=NAME@N, which
 * every boot entry carries: boot/nodes.ts) and the kernel's boot id into a file of its own root.
 * The server reads that file from the node's root on its disk (status/booted.ts): the file being
 * in the root the node was given, with a boot id other than before, is a boot of that root that
 * got as far as multi-user, whatever the DHCP or NFS logs say.
 */

/** The kernel parameter naming the revision a node's boot entry boots. */
export const REVISION_ARG = 'pxeroot.revision'

/** Where the node writes its report, inside its own root. */
export const BOOT_REPORT_FILE = '/var/lib/pxeroot/booted'

export const BOOT_REPORT_UNIT = 'pxeroot-booted.service'
export const BOOT_REPORT_SCRIPT = '/usr/lib/pxeroot/boot-report'

/** The script the unit runs; POSIX sh, nothing but coreutils. Written to a temp name and renamed,
 * so the server never reads half a report. */
export function renderBootReportScript(): string {
  return [
    '#!/bin/sh',
    '# pxeroot: tell the server this node booted, and on what (see the unit of the same name).',
    'set -eu',
    'revision=""',
    'for word in $(cat /proc/cmdline); do',
    '  case "$word" in',
    `    ${REVISION_ARG}=*) revision="\${word#${REVISION_ARG}=}" ;;`,
    '  esac',
    'done',
    `dir=${path.posix.dirname(BOOT_REPORT_FILE)}`,
    'mkdir -p "$dir"',
    'tmp="$dir/.booted.$$"',
    'printf \'revision=%s\\nboot_id=%s\\nbooted_at=%s\\n\' "$revision" "$(cat /proc/sys/kernel/random/boot_id)" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$tmp"',
    'sync "$tmp" 2>/dev/null || true',
    `mv -f "$tmp" ${BOOT_REPORT_FILE}`,
    '',
  ].join('\n')
}

export function renderBootReportUnit(): string {
  return [
    '# pxeroot: once the node is up (multi-user.target reached), write the revision it booted and',
    `# its boot id to ${BOOT_REPORT_FILE} in its own root, where the server reads them.`,
    '[Unit]',
    'Description=pxeroot: report the booted revision to the server',
    'After=multi-user.target',
    '',
    '[Service]',
    'Type=oneshot',
    `ExecStart=${BOOT_REPORT_SCRIPT}`,
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n')
}

/**
 * Puts the unit, its script and its multi-user.target.wants link into an image tree. What is
 * already there as it should be is left alone (not even its times move), so an image change that
 * finds them in place is still "no change"; an image built before they existed gets them with its
 * next change (images/change.ts).
 */
export async function installBootReport(files: Files, rootfs: string): Promise<void> {
  const write = async (rel: string, text: string, mode: number) => {
    const file = path.join(rootfs, rel)
    const st = await fs.lstat(file).catch(() => undefined)
    if (st?.isFile() && (st.mode & 0o7777) === mode && (await fs.readFile(file, 'utf8')) === text) return
    await files.write(file, text, {mode, forceMode: true, within: rootfs, sync: false})
  }
  await write(BOOT_REPORT_SCRIPT, renderBootReportScript(), 0o755)
  await write(`/etc/systemd/system/${BOOT_REPORT_UNIT}`, renderBootReportUnit(), 0o644)
  const link = path.join(rootfs, 'etc/systemd/system/multi-user.target.wants', BOOT_REPORT_UNIT)
  const target = `/etc/systemd/system/${BOOT_REPORT_UNIT}`
  if (await fs.readlink(link).catch(() => undefined) !== target) await files.symlink(target, link, {within: rootfs})
}

/** Whether an image tree has the unit (a revision built before it cannot prove a boot). */
export async function hasBootReport(rootfs: string): Promise<boolean> {
  return fs.lstat(path.join(rootfs, 'etc/systemd/system/multi-user.target.wants', BOOT_REPORT_UNIT)).then(() => true, () => false)
}

/** What a node reported: the revision it was told it boots, and its boot. */
export interface BootReport {
  revision?: string
  bootId: string
  at?: string
}

/** The report's KEY=VALUE lines; undefined when it holds no boot id (not a report). Pure. */
export function parseBootReport(text: string): BootReport | undefined {
  const value = (key: string) => new RegExp(`^${key}=(.*)$`, 'm').exec(text)?.[1]?.trim()
  const bootId = value('boot_id')
  if (!bootId || !/^[0-9a-f-]{32,36}$/.test(bootId)) return undefined
  const revision = value('revision')
  const at = value('booted_at')
  return {bootId, ...(revision ? {revision} : {}), ...(at ? {at} : {})}
}
