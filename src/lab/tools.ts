import {constants, promises as fs} from 'node:fs'
import path from 'node:path'

import {PreconditionError} from '../errors.js'

/** Every program a lab run starts whatever the site's servers, with the Debian package that has it. */
export const LAB_TOOLS = {
  ip: 'iproute2',
  nsenter: 'util-linux',
  unshare: 'util-linux',
  mount: 'mount',
  'in.tftpd': 'tftpd-hpa',
  rpcbind: 'rpcbind',
  rpcinfo: 'rpcbind',
  'ganesha.nfsd': 'nfs-ganesha nfs-ganesha-vfs',
  'qemu-system-x86_64': 'qemu-system-x86 ipxe-qemu',
} as const

/** The e1000's PXE option ROM qemu loads; without it the VM has nothing to network-boot with. */
export const E1000_ROM = '/usr/lib/ipxe/qemu/pxe-e1000.rom'

/**
 * OVMF built with Secure Boot and SMM, and its variable store with Microsoft's keys enrolled
 * and Secure Boot on (package ovmf): the firmware of a PC that boots only what Microsoft's UEFI
 * CA signed, which is how shim reaches the nodes.
 */
export const OVMF = {
  code: '/usr/share/OVMF/OVMF_CODE_4M.ms.fd',
  vars: '/usr/share/OVMF/OVMF_VARS_4M.ms.fd',
} as const

/** For a UEFI run: both OVMF files, before anything is started. */
export async function requireOvmf(files: {code: string, vars: string} = OVMF): Promise<void> {
  for (const file of [files.code, files.vars]) {
    try {
      await fs.access(file, constants.R_OK)
    } catch {
      throw new PreconditionError(`pxeroot lab boot --firmware uefi needs OVMF with Secure Boot (${file} is missing)`, 'apt-get install ovmf')
    }
  }
}

async function onPath(name: string): Promise<string | undefined> {
  const dirs = (process.env.PATH ?? '').split(':').filter(Boolean).concat(['/usr/sbin', '/usr/bin', '/sbin', '/bin'])
  for (const dir of dirs) {
    try {
      await fs.access(path.join(dir, name), constants.X_OK)
      return path.join(dir, name)
    } catch {}
  }
  return undefined
}

/** Absolute paths of the programs (program → package) that are installed, and the packages of those that are not. */
export async function findTools(tools: Readonly<Record<string, string>>): Promise<{found: Record<string, string>, missing: string[]}> {
  const missing = new Set<string>()
  const found: Record<string, string> = {}
  for (const [tool, pkg] of Object.entries(tools)) {
    const at = await onPath(tool)
    if (at) found[tool] = at
    else missing.add(pkg)
  }
  return {found, missing: [...missing]}
}

export type LabTools = Record<keyof typeof LAB_TOOLS, string> & Record<string, string>

/**
 * Checked before anything is started (nsenter would report a missing server only as exit 127):
 * the lab's own tools and `servers`, the programs of the site's servers (program → package).
 * Returns absolute paths, so what runs inside the namespaces does not depend on PATH.
 */
export async function requireLabTools(servers: Readonly<Record<string, string>>): Promise<LabTools> {
  const {found, missing: packages} = await findTools({...LAB_TOOLS, ...servers})
  const missing = new Set(packages)
  try {
    await fs.access(E1000_ROM, constants.R_OK)
  } catch {
    missing.add('ipxe-qemu')
  }
  if (missing.size > 0) {
    throw new PreconditionError('pxeroot lab needs programs that are not installed', `apt-get install ${[...missing].join(' ')}`)
  }
  return found as LabTools
}
