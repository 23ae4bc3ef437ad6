import {promises as fs} from 'node:fs'
import path from 'node:path'

import {type Files} from '../system/files.js'
import {installBootReport} from './boot-report.js'

/** Files an NFS-root golden image carries; pure renderers, written into the tree by configureNfsRoot. */
export function renderInitramfsConf(modules?: readonly string[]): string {
  return [
    '# pxeroot: this image boots with its root on NFS (initramfs-tools scripts/nfs, klibc nfsmount, NFSv3).',
    'BOOT=nfs',
    // netboot = base + network drivers, no block devices; MODULES=dep would guess the build host's hardware.
    `MODULES=${modules ? 'list' : 'netboot'}`,
    'COMPRESS=zstd',
    '',
  ].join('\n')
}

export function renderInitramfsModules(modules: readonly string[]): string {
  return ['# pxeroot: MODULES=list; the network drivers and NFS client this image boots with.', ...modules, ''].join('\n')
}

export const FSTAB = [
  '# pxeroot: / is the root named on the kernel command line: the NFS root (root=/dev/nfs',
  '# nfsroot=... rw), or with boot=rbd the node\'s RBD clone (/dev/rbd0), mounted rw by the initramfs.',
  '# No "/" line here: systemd-remount-fs would try to remount it (and fail without mount.nfs).',
  '# No swap files: swap cannot live on NFS.',
  '',
].join('\n')

/** A networkd file that leaves wired links alone on a boot whose kernel command line has `word`: the initramfs configured the boot NIC and the root depends on it. */
export function networkdUnmanaged(kind: string, word: string): string {
  return [
    `# pxeroot: on an ${kind}-root boot, leave wired links to the kernel/initramfs configuration.`,
    '[Match]',
    `KernelCommandLine=${word}`,
    'Type=ether',
    '',
    '[Link]',
    'Unmanaged=yes',
    '',
  ].join('\n')
}

/** The boot NIC was configured by the initramfs; networkd must not release or re-DHCP it (systemd < 251 would). */
export const NETWORKD_NFSROOT = networkdUnmanaged('NFS', 'nfsroot')

export const NETWORK_MANAGER_NFSROOT = [
  '# pxeroot: the boot NIC carries the NFS root; NetworkManager must not take wired devices down.',
  '[keyfile]',
  'unmanaged-devices=type:ethernet',
  '',
].join('\n')

export const IFUPDOWN_INTERFACES = [
  '# pxeroot: the boot interface is configured by the initramfs and carries the NFS root.',
  '# Do not add it here: ifup/ifdown would re-DHCP or take it down and hang the node.',
  'auto lo',
  'iface lo inet loopback',
  '',
].join('\n')

export const APT_NO_PERIODIC = [
  '// pxeroot: nodes never upgrade themselves; "pxeroot image update" does it server-side.',
  'APT::Periodic::Enable "0";',
  'APT::Periodic::Update-Package-Lists "0";',
  'APT::Periodic::Unattended-Upgrade "0";',
  '',
].join('\n')

/** Units masked in the image: self-upgrades race the server-side update; wait-online stalls on extra NICs. */
export const MASKED_UNITS = [
  'apt-daily.timer', 'apt-daily.service', 'apt-daily-upgrade.timer', 'apt-daily-upgrade.service',
  'unattended-upgrades.service', 'systemd-networkd-wait-online.service',
]

export const IMAGE_HOSTNAME = 'pxeroot-image'

export const RESOLV_CONF = '# pxeroot: written per node from the site\'s dns servers when a node root is cloned.\n'

/** Everything that makes a debootstrapped tree an NFS-root golden image (build time only). */
export async function configureNfsRoot(files: Files, rootfs: string, modules?: readonly string[]): Promise<void> {
  const write = (rel: string, text: string) => files.write(path.join(rootfs, rel), text, {mode: 0o644, forceMode: true, within: rootfs, sync: false})
  await write('etc/initramfs-tools/conf.d/pxeroot', renderInitramfsConf(modules))
  if (modules) await write('etc/initramfs-tools/modules', renderInitramfsModules(modules))
  await write('etc/fstab', FSTAB)
  await write('etc/hostname', `${IMAGE_HOSTNAME}\n`)
  await write('etc/hosts', `127.0.0.1\tlocalhost\n127.0.1.1\t${IMAGE_HOSTNAME}\n::1\tlocalhost ip6-localhost ip6-loopback\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n`)
  // debootstrap copied the build host's resolver; the image gets its own.
  await write('etc/resolv.conf', RESOLV_CONF)
  await write('etc/systemd/network/00-pxeroot-nfsroot.network', NETWORKD_NFSROOT)
  await write('etc/NetworkManager/conf.d/00-pxeroot-nfsroot.conf', NETWORK_MANAGER_NFSROOT)
  if (await fs.stat(path.join(rootfs, 'etc/network')).catch(() => undefined)) await write('etc/network/interfaces', IFUPDOWN_INTERFACES)
  // A netplan config that DHCPs the boot NIC would re-address it under the NFS root.
  for (const f of await fs.readdir(path.join(rootfs, 'etc/netplan')).catch(() => [] as string[])) {
    if (f.endsWith('.yaml')) await files.remove(path.join(rootfs, 'etc/netplan', f))
  }
  await write('etc/apt/apt.conf.d/99pxeroot-no-periodic', APT_NO_PERIODIC)
  for (const unit of MASKED_UNITS) await files.symlink('/dev/null', path.join(rootfs, 'etc/systemd/system', unit), {within: rootfs})
  await installBootReport(files, rootfs)
}

/**
 * Per-machine identity must not be shared by clones: machine-id empty (not missing: missing or
 * "uninitialized" triggers first-boot), dbus's copy follows it, SSH host keys go (each clone gets its own).
 * Runs after every change to an image, since installing packages can recreate them.
 */
export async function removeIdentity(files: Files, rootfs: string): Promise<void> {
  const machineId = path.join(rootfs, 'etc/machine-id')
  const st0 = await fs.lstat(machineId).catch(() => undefined)
  // Left untouched when already right, so an unchanged image stays byte- and time-identical.
  if (!st0?.isFile() || st0.size !== 0) await files.write(machineId, '', {mode: 0o444, forceMode: true, within: rootfs, sync: false})
  const dbus = path.join(rootfs, 'var/lib/dbus/machine-id')
  const st = await fs.lstat(dbus).catch(() => undefined)
  if (st && !st.isSymbolicLink()) await files.symlink('/etc/machine-id', dbus, {within: rootfs})
  for (const f of await fs.readdir(path.join(rootfs, 'etc/ssh')).catch(() => [] as string[])) {
    if (f.startsWith('ssh_host_')) await files.remove(path.join(rootfs, 'etc/ssh', f))
  }
}
