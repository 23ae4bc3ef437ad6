import {promises as fs} from 'node:fs'
import path from 'node:path'

import {PreconditionError} from '../errors.js'
import {type ChrootSession} from '../system/chroot.js'

/** Debian-ish version order good enough for kernel release strings (6.1.0-21-amd64 < 6.1.0-25-amd64); pure. */
export function compareKernelVersions(a: string, b: string): number {
  const pa = a.split(/[^0-9]+/).filter(Boolean).map(Number)
  const pb = b.split(/[^0-9]+/).filter(Boolean).map(Number)
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? -1) - (pb[i] ?? -1)
    if (d !== 0) return d
  }
  return a.localeCompare(b)
}

/** Kernels installed in a tree (modules and a vmlinuz), newest first. The image's, never the host's `uname -r`. */
export async function imageKernels(rootfs: string): Promise<string[]> {
  const versions = new Set<string>()
  for (const dir of ['lib/modules', 'usr/lib/modules']) {
    for (const v of await fs.readdir(path.join(rootfs, dir)).catch(() => [] as string[])) {
      if (await fs.stat(path.join(rootfs, 'boot', `vmlinuz-${v}`)).catch(() => undefined)) versions.add(v)
    }
  }
  return [...versions].sort(compareKernelVersions).reverse()
}

export async function newestKernel(rootfs: string): Promise<string> {
  const [v] = await imageKernels(rootfs)
  if (!v) throw new PreconditionError('the image has no kernel (no /boot/vmlinuz-* with modules)', 'check the recipe\'s kernel package')
  return v
}

export function kernelFiles(rootfs: string, version: string): {kernel: string, initrd: string} {
  return {kernel: path.join(rootfs, 'boot', `vmlinuz-${version}`), initrd: path.join(rootfs, 'boot', `initrd.img-${version}`)}
}

/** Builds (or rebuilds) the initrd of exactly this kernel version inside the image. */
export async function buildInitrd(session: ChrootSession, rootfs: string, version: string, signal?: AbortSignal): Promise<void> {
  const exists = await fs.stat(kernelFiles(rootfs, version).initrd).catch(() => undefined)
  await session.run(['update-initramfs', exists ? '-u' : '-c', '-k', version], {timeout: 20 * 60_000, cancelSignal: signal})
  if (!(await fs.stat(kernelFiles(rootfs, version).initrd).catch(() => undefined))) {
    throw new PreconditionError(`update-initramfs did not produce /boot/initrd.img-${version}`)
  }
}

/** Packages whose upgrade changes what goes into an initrd. */
export function affectsInitrd(pkg: string): boolean {
  return /^(linux-image-|initramfs-tools|klibc|libklibc|udev$|kmod$|busybox|zstd$|libc6$)/.test(pkg)
}
