import {promises as fs} from 'node:fs'
import path from 'node:path'

import {type Files} from '../system/files.js'
import {networkdUnmanaged} from './nfsroot.js'

/**
 * What lets every image boot with its root on the node's own RBD clone, mapped by the node's
 * kernel, besides NFS: an initramfs-tools boot script chosen by boot=rbd on the kernel command
 * line (the image's default stays BOOT=nfs), a hook that puts the kernel's RBD client into the
 * initrd whatever MODULES= says, and the booted system's hands off the boot NIC. Pure texts,
 * written into the tree by configureRbdRoot at build time.
 *
 * The kernel command line (rendered per node by boot/rbd-root.ts, the contract between both):
 *   boot=rbd pxeroot.rbd=MONS/POOL/NAMESPACE/IMAGE pxeroot.rbd_user=NAME pxeroot.rbd_key=SECRET ip=dhcp rw
 */

/** Where the boot script and the hook live in an image, and what they are called in its initrd. */
export const RBD_BOOT_SCRIPT = {image: 'etc/initramfs-tools/scripts/rbd', initrd: 'scripts/rbd'} as const
export const RBD_HOOK = {image: 'etc/initramfs-tools/hooks/pxeroot-rbd'} as const
/** The kernel modules a boot=rbd initrd must hold (their dependencies come with them). */
export const RBD_MODULES = ['rbd', 'libceph'] as const

/** What every line the boot script prints starts with, and what its refusals say after it. */
export const RBD_SAYS = 'pxeroot-rbd:'
export const RBD_FAILED = 'pxeroot-rbd: FAILED:'

/**
 * The boot script (/scripts/rbd in the initrd; init sources it for BOOT=rbd and calls mountroot).
 * It parses the kernel command line first (a malformed one fails before the network is up), loads
 * rbd, brings the network up as the NFS boot does (configure_networking: ip=, BOOTIF=), and maps
 * the image by writing `MONS name=NAME,secret=KEY,_pool_ns=NS,exclusive,lock_timeout=60 POOL
 * IMAGE` to /sys/bus/rbd/add_single_major (exclusive: two machines booting one root must not both
 * write it). klibc's cat gives the write's reason (klibc's sh and dd do not), so a refusal ends the
 * boot at once with its meaning: Read-only file system (the peer holding the lock will not release
 * it), Operation not permitted (caps), Permission denied (the key), No such file or directory (no
 * image), Invalid argument; anything else (Connection timed out: no monitor answered) is tried
 * again for RBD_TIMEOUT seconds. Then /dev/rbdN is mounted as / (ext4 unless rootfstype=, rw as the
 * command line says). A crashed owner's lock is broken by the kernel itself (it blocklists that
 * client) once its watch has expired.
 */
export const RBD_BOOT_SCRIPT_TEXT = `# pxeroot: the node's root is its own RBD clone, mapped by this kernel	-*- shell-script -*-
#
# Written by pxeroot into every image (/etc/initramfs-tools/scripts/rbd) and chosen by boot=rbd on
# the kernel command line; without it the image boots from NFS as before (BOOT=nfs). pxeroot
# renders, per node:
#   boot=rbd pxeroot.rbd=MONS/POOL/NAMESPACE/IMAGE pxeroot.rbd_user=NAME pxeroot.rbd_key=SECRET ip=dhcp rw
# MONS: ADDR:PORT[,ADDR:PORT...] (the monitors, msgr v1); NAME: the cephx user without "client.".
# The node brings its network up, maps the image with the kernel's rbd driver (exclusive: while
# it runs, no other machine can map its root) and mounts it as /. Every line printed here starts
# with "pxeroot-rbd:"; a boot that cannot go on ends with one "pxeroot-rbd: FAILED: ..." line and
# the initramfs's panic shell.

# Seconds to keep trying while the cluster does not answer (a refusal ends the boot at once).
RBD_TIMEOUT=180
# Seconds one mapping waits for the image's exclusive lock (a crashed owner's lock is broken
# once its watch expires, about 30 s after it went silent).
RBD_LOCK_TIMEOUT=60
# Where the kernel command line is read (a test gives its own).
RBD_CMDLINE="\${RBD_CMDLINE:-/proc/cmdline}"

rbd_say()
{
	echo "pxeroot-rbd: $*"
}

rbd_fail()
{
	panic "pxeroot-rbd: FAILED: $*"
}

# How many lines the kernel log holds now (what a later rbd_kernel_said skips).
rbd_dmesg_lines()
{
	dmesg 2>/dev/null | {
		n=0
		while read -r line; do n=$((n + 1)); done
		echo "$n"
	}
}

# What the kernel's RBD client said after line $1 of its log (its own reason for a refusal),
# without timestamps and without its routine lines; empty when it said nothing.
rbd_kernel_said()
{
	dmesg 2>/dev/null | {
		n=0
		said=
		while read -r line; do
			n=$((n + 1))
			[ "$n" -gt "$1" ] || continue
			case "$line" in
			*"session established"*|*" fsid "*|*"loaded (mon/osd"*) ;;
			*"rbd: "*|*"libceph: "*) said="\${said:+\${said}; }\${line#*] }" ;;
			esac
		done
		[ -z "$said" ] || echo " (kernel: \${said})"
	}
}

rbd_parse()
{
	local x rest
	RBD_SPEC=
	RBD_USER=
	RBD_KEY=
	for x in $(cat "$RBD_CMDLINE"); do
		case "$x" in
		pxeroot.rbd=*) RBD_SPEC="\${x#pxeroot.rbd=}" ;;
		pxeroot.rbd_user=*) RBD_USER="\${x#pxeroot.rbd_user=}" ;;
		pxeroot.rbd_key=*) RBD_KEY="\${x#pxeroot.rbd_key=}" ;;
		esac
	done
	case "$RBD_SPEC" in
	*/*/*/*/*|"") RBD_SPEC_OK=n ;;
	*/*/*/*) RBD_SPEC_OK=y ;;
	*) RBD_SPEC_OK=n ;;
	esac
	if [ "$RBD_SPEC_OK" = y ]; then
		RBD_MONS="\${RBD_SPEC%%/*}"
		rest="\${RBD_SPEC#*/}"
		RBD_POOL="\${rest%%/*}"
		rest="\${rest#*/}"
		RBD_NS="\${rest%%/*}"
		RBD_IMAGE="\${rest#*/}"
		[ -n "$RBD_MONS" ] && [ -n "$RBD_POOL" ] && [ -n "$RBD_IMAGE" ] || RBD_SPEC_OK=n
	fi
	[ "$RBD_SPEC_OK" = y ] || rbd_fail "the kernel command line needs pxeroot.rbd=MONS/POOL/NAMESPACE/IMAGE with boot=rbd (it has \\"\${RBD_SPEC}\\")"
	[ -n "$RBD_USER" ] || rbd_fail "the kernel command line needs pxeroot.rbd_user=NAME (the node's cephx user) with boot=rbd"
	[ -n "$RBD_KEY" ] || rbd_fail "the kernel command line needs pxeroot.rbd_key=SECRET (the node's cephx key) with boot=rbd"
	RBD_NAME="\${RBD_POOL}/\${RBD_NS:+\${RBD_NS}/}\${RBD_IMAGE}"
}

# One attempt; sets RBD_ERR to the reason the kernel gave (strerror of the write; empty when it
# was taken). klibc's cat reports a failed write as "write: REASON"; the request goes through a
# here-document (a pipe), so the key never lands in a file.
rbd_add()
{
	local add opts trace
	add=/sys/bus/rbd/add_single_major
	[ -e "$add" ] || add=/sys/bus/rbd/add
	opts="name=\${RBD_USER},secret=\${RBD_KEY}\${RBD_NS:+,_pool_ns=\${RBD_NS}},exclusive,lock_timeout=\${RBD_LOCK_TIMEOUT}"
	# The key must not reach a debug trace (boot with "debug" logs every command).
	trace=n
	case "$-" in *x*) trace=y; set +x ;; esac
	if RBD_ERR="$(cat 2>&1 > "$add" <<EOF
\${RBD_MONS} \${opts} \${RBD_POOL} \${RBD_IMAGE}
EOF
)"; then
		RBD_ERR=
	else
		RBD_ERR="\${RBD_ERR#*write: }"
		RBD_ERR="\${RBD_ERR:-the kernel refused the request}"
	fi
	[ "$trace" = y ] && set -x
	[ -z "$RBD_ERR" ]
}

# The block device the kernel made for the image: /dev/rbdN of the matching /sys/bus/rbd/devices/N.
rbd_device()
{
	local d name pool ns
	for d in /sys/bus/rbd/devices/*; do
		[ -e "$d/name" ] || continue
		read -r name < "$d/name"
		read -r pool < "$d/pool"
		ns=
		[ -e "$d/pool_ns" ] && read -r ns < "$d/pool_ns"
		if [ "$name" = "$RBD_IMAGE" ] && [ "$pool" = "$RBD_POOL" ] && [ "$ns" = "$RBD_NS" ]; then
			RBD_DEV="/dev/rbd\${d##*/}"
			RBD_SYS="/sys/block/rbd\${d##*/}"
			return 0
		fi
	done
	return 1
}

rbd_map()
{
	local start now said before
	start="$(_uptime)"
	rbd_say "mapping \${RBD_NAME} from \${RBD_MONS} as client.\${RBD_USER} (exclusive)"
	before="$(rbd_dmesg_lines)"
	while ! rbd_add; do
		said="$(rbd_kernel_said "$before")"
		case "$RBD_ERR" in
		*"Read-only file system"*)
			rbd_fail "\${RBD_NAME} is in use by another machine (peer will not release lock): two machines must not run one root; power the other one off, or fence it (ceph osd blocklist add), then boot this one again\${said}" ;;
		*"Operation not permitted"*)
			rbd_fail "the cluster refused client.\${RBD_USER} access to \${RBD_NAME} (\${RBD_ERR}): its caps do not reach namespace \${RBD_NS:-(default)} of pool \${RBD_POOL}, or the namespace does not exist\${said}" ;;
		*"Permission denied"*)
			rbd_fail "the cluster refused client.\${RBD_USER} (\${RBD_ERR}): the key on the kernel command line is not that user's\${said}" ;;
		*"No such file or directory"*)
			rbd_fail "\${RBD_NAME} does not exist in the cluster (\${RBD_ERR})\${said}" ;;
		*"Invalid argument"*)
			rbd_fail "the kernel refused the request to map \${RBD_NAME} (\${RBD_ERR}): check pxeroot.rbd= and pxeroot.rbd_key= on the kernel command line\${said}" ;;
		esac
		now="$(_uptime)"
		if [ $((now - start)) -ge "$RBD_TIMEOUT" ]; then
			rbd_fail "no mapping of \${RBD_NAME} from \${RBD_MONS} within \${RBD_TIMEOUT} s (\${RBD_ERR}): are the monitors and the OSDs reachable from this node?\${said}"
		fi
		rbd_say "\${RBD_NAME}: \${RBD_ERR}\${said}; trying again"
		before="$(rbd_dmesg_lines)"
		sleep 2
	done
	rbd_device || rbd_fail "the kernel mapped \${RBD_NAME} but shows no device for it under /sys/bus/rbd/devices"
	wait_for_udev 10
	if [ ! -b "$RBD_DEV" ]; then
		# No udev rule made the node (a minimal initramfs): make it from the kernel's numbers.
		local majmin
		read -r majmin < "\${RBD_SYS}/dev"
		mknod "$RBD_DEV" b "\${majmin%%:*}" "\${majmin#*:}" || rbd_fail "no block device \${RBD_DEV} for \${RBD_NAME}"
	fi
	rbd_say "mapped \${RBD_NAME} at \${RBD_DEV} (exclusive lock held)"
}

rbd_mount_root_impl()
{
	local fstype roflag
	rbd_parse
	/sbin/modprobe rbd || rbd_fail "this initrd has no rbd driver (modprobe rbd failed): rebuild it with pxeroot's hook (/etc/initramfs-tools/hooks/pxeroot-rbd)"
	[ -e /sys/bus/rbd ] || rbd_fail "the kernel has no rbd bus after loading rbd"

	# For DHCP
	/sbin/modprobe af_packet
	wait_for_udev 10
	configure_networking
	[ -n "\${IPV4ADDR}" ] || rbd_fail "no network: the initramfs got no address (ip=\${IP:-dhcp}\${DEVICE:+ on \${DEVICE}}), so the cluster is out of reach"

	rbd_map

	fstype="\${ROOTFSTYPE:-ext4}"
	/sbin/modprobe "$fstype" 2>/dev/null
	if [ "\${readonly?}" = y ]; then roflag=ro; else roflag=rw; fi
	# shellcheck disable=SC2086
	mount -t "$fstype" -o "$roflag" \${ROOTFLAGS} "$RBD_DEV" "\${rootmnt?}" || rbd_fail "\${RBD_DEV} (\${RBD_NAME}) did not mount as \${fstype} on /"
	rbd_say "/ is \${RBD_DEV} (\${fstype}, \${roflag})"
}

mountroot()
{
	rbd_mount_root_impl
}

mount_top()
{
	:
}

mount_premount()
{
	:
}

mount_bottom()
{
	:
}
`

/**
 * The hook: the RBD client and what it needs (libceph, libcrc32c and its crc32c soft dependency,
 * which manual_add_modules resolves) and ext4, for every MODULES= setting (netboot has no block
 * drivers, list only what the recipe names). A module the kernel does not have is skipped quietly.
 */
export const RBD_HOOK_TEXT = `#!/bin/sh
# pxeroot: the kernel's RBD client in every initrd, so the image can boot with boot=rbd.
PREREQ=""
prereqs()
{
	echo "$PREREQ"
}
case "$1" in
prereqs)
	prereqs
	exit 0
	;;
esac
. /usr/share/initramfs-tools/hook-functions
manual_add_modules rbd libceph libcrc32c crc32c_generic crc32c-intel ext4 af_packet
`

/** The boot NIC was configured by the initramfs and carries the root's block device: networkd must not release or re-DHCP it. */
export const NETWORKD_RBDROOT = networkdUnmanaged('RBD', 'pxeroot.rbd')
const NETWORKD_RBDROOT_FILE = 'etc/systemd/network/00-pxeroot-rbdroot.network'

/**
 * Everything that lets an image boot from RBD; its NFS boot is unchanged. Writes only what is
 * missing or differs, and returns those files (image paths): a revision built before the RBD boot
 * existed gets it with its next change, and one that has it stays byte- and time-identical.
 */
export async function configureRbdRoot(files: Files, rootfs: string): Promise<string[]> {
  const written: string[] = []
  const write = async (rel: string, text: string, mode: number) => {
    const file = path.join(rootfs, rel)
    const st = await fs.lstat(file).catch(() => undefined)
    if (st?.isFile() && (st.mode & 0o7777) === mode && (await fs.readFile(file, 'utf8')) === text) return
    await files.write(file, text, {mode, forceMode: true, within: rootfs, sync: false})
    written.push(rel)
  }
  await write(RBD_BOOT_SCRIPT.image, RBD_BOOT_SCRIPT_TEXT, 0o644)
  // mkinitramfs runs only executable hooks.
  await write(RBD_HOOK.image, RBD_HOOK_TEXT, 0o755)
  await write(NETWORKD_RBDROOT_FILE, NETWORKD_RBDROOT, 0o644)
  return written
}

/** Whether files configureRbdRoot wrote change what the initrd holds (the boot script, the hook). */
export function rbdInitrdChanged(written: readonly string[]): boolean {
  return written.some((f) => f !== NETWORKD_RBDROOT_FILE)
}
