import {type LabFetch} from '../backends/types.js'
import {fetchedFile, fetchProblem, type FetchSource} from './fetched.js'
import {rbdFailureIn, rbdMountedIn, type RbdTarget} from './rbd.js'
import {type TftpTracker} from './tftp.js'

/** Every step of a network boot the lab can prove; which of them a boot must pass depends on its chain (milestonesOf). */
export type MilestoneId = 'lease' | 'loader' | 'secondStage' | 'menu' | 'config' | 'kernel' | 'initrd' | 'secureBoot' | 'ipconfig' | 'nfsroot' | 'rbdroot' | 'login'

export interface Milestone {
  id: MilestoneId
  label: string
}

/** What the lab knows about a node, so that each milestone can be checked against it. */
export interface BootTarget {
  name: string
  ip: string
  /** The MAC the VM uses (the inventory's, or the lab's for a node bound by address, which leases from the dynamic range). */
  mac: string
  /** Host path the node mounts as its root over NFS. */
  rootPath: string
  /** Its root is its own RBD clone instead, mapped by its kernel (its command line says boot=rbd). */
  rbd?: RbdTarget
  /** Paths relative to the tftp root: the boot file DHCP names (pxelinux.0, or shim as bootx64.efi)... */
  loader: string
  /** ...for a UEFI node, the GRUB shim loads and the grub.cfg GRUB reads (the VM enforces Secure Boot)... */
  uefi?: {secondStage: string, menu: string}
  /** ...then the node's own file (pxelinux or GRUB), its kernel and its initrd. */
  config: string
  kernel: string
  initrd: string
  /** How it fetches them: TFTP (pxelinux, GRUB), or HTTP (iPXE, boot.transport http). */
  transport?: 'tftp' | 'http'
  /** HTTP: the files' sizes as the lab serves them, so that part of a file is not taken for all of it. */
  sizes?: Record<string, number>
}

const base = (file: string) => file.split('/').at(-1) ?? file

/**
 * The steps of this node's boot, in order. BIOS: pxelinux.0, the node's pxelinux file, kernel,
 * initrd. UEFI: shim, GRUB, grub.cfg, the node's GRUB file, kernel (accepted by shim), initrd,
 * then the kernel saying that Secure Boot is on: a UEFI node passes only under Secure Boot.
 */
export function milestonesOf(target: BootTarget): Milestone[] {
  const {uefi} = target
  const chain: Milestone[] = uefi
    ? [
      {id: 'loader', label: `TFTP ${target.loader} (shim)`},
      {id: 'secondStage', label: `TFTP ${base(uefi.secondStage)}`},
      {id: 'menu', label: base(uefi.menu)},
      {id: 'config', label: 'GRUB node file'},
    ]
    : target.transport === 'http'
      // iPXE's scripts take the loader's and its file's place, and every file comes from the web server.
      ? [{id: 'loader', label: `${base(target.loader)} (HTTP)`}, {id: 'config', label: 'node script (HTTP)'}]
      : [{id: 'loader', label: `TFTP ${target.loader}`}, {id: 'config', label: 'pxelinux file'}]
  const over = target.transport === 'http' ? ' (HTTP)' : ''
  return [
    {id: 'lease', label: 'DHCP lease'},
    ...chain,
    {id: 'kernel', label: `kernel${over}`},
    {id: 'initrd', label: `initrd${over}`},
    ...(uefi ? [{id: 'secureBoot', label: 'Secure Boot enabled'} as Milestone] : []),
    {id: 'ipconfig', label: 'initramfs lease'},
    target.rbd ? {id: 'rbdroot', label: 'RBD root mounted'} : {id: 'nfsroot', label: 'NFS root mounted'},
    {id: 'login', label: 'login prompt'},
  ]
}

/** The files the boot cannot do without, in the order they are fetched: a TFTP error on one ends it. */
function chainFiles(target: BootTarget): string[] {
  return [target.loader, ...(target.uefi ? [target.uefi.secondStage, target.uefi.menu] : []), target.config, target.kernel, target.initrd]
}

/** An address the DHCP server acknowledged to a MAC, read from its log by its backend's lab hook. */
export interface Lease {
  ip: string
  mac: string
}

/** A MOUNT request as NFS-Ganesha logs it (NFSPROTO at DEBUG): the path, the client, and how it ended. */
export interface NfsMount {
  path: string
  client: string
  ok: boolean
  why?: string
}

/**
 * Ganesha logs "Calling MNT_MNT path=P" and then, on the same service thread, either the
 * granted handle "for client C" or the reason it refused.
 */
export function mountsIn(ganeshaLog: string): NfsMount[] {
  const out: NfsMount[] = []
  const pending = new Map<string, string>()
  for (const line of ganeshaLog.split('\n')) {
    const thread = /\[([^\]]+)\]/.exec(line)?.[1] ?? ''
    const call = /Calling MNT_MNT path=(\S+)/.exec(line)
    if (call) {
      pending.set(thread, call[1])
      continue
    }
    const client = (s: string) => s.replace(/^::ffff:/, '')
    const granted = /MOUNT: Entry supports .* for client (\S+)/.exec(line)
    const refused = /MOUNT: Export entry (?:for )?(\S+) (does not .*?) (?:for )?client (\S+)/.exec(line)
    const missing = /MOUNT: Export entry for (\S+) not found/.exec(line)
    if (granted) out.push({path: pending.get(thread) ?? '', client: client(granted[1]), ok: true})
    else if (refused) out.push({path: refused[1], client: client(refused[3]), ok: false, why: refused[2]})
    else if (missing) out.push({path: missing[1], client: '', ok: false, why: 'no such export'})
    else continue
    pending.delete(thread)
  }
  return out
}

/** Lines on the serial console that mean this boot will not get anywhere. */
const FATAL = [
  // pxelinux could not fetch the kernel or initrd its entry names.
  /Loading \S+\s*\.\.\.\s*failed[^\n]*/,
  /Kernel panic[^\n]*/,
  /No bootable device[^\n]*/,
  /Nothing to boot[^\n]*/,
  /nfsmount: [^\n]*/,
  /Failed to load ldlinux\.c32[^\n]*/,
  /Boot failed[^\n]*/,
  /Could not find kernel image[^\n]*/,
  // iPXE's boot.ipxe found no script for the machine.
  /pxeroot: no boot script for[^\n]*/,
  /Unable to locate configuration file[^\n]*/,
  // pxelinux fell back to its prompt: the entry it was given did not boot.
  /^boot: *$/m,
  /Gave up waiting for root[^\n]*/,
  // The RBD boot script's refusal (peer will not release lock, a wrong key, no such image...).
  /pxeroot-rbd: FAILED: [^\n]*/,
  /You are now being dropped into an emergency shell[^\n]*/,
  /\(initramfs\) *$/m,
  // The NFS server refuses the initramfs (an address its export does not admit): it will not relent.
  /mount call failed - server replied: Permission denied/,
  // UEFI. OVMF's PXE could not get an offer or its boot file, or ran out of boot options.
  /PXE-E\d+:[^\n]*/,
  /BdsDxe: failed to (?:load|start) Boot[^\n]*/,
  /No bootable option or device was found[^\n]*/,
  // shim could not fetch or verify GRUB (it looks for grubx64.efi beside itself on the TFTP server).
  /Unable to fetch TFTP image[^\n]*/,
  /Failed to load image[^\n]*/,
  /start_image\(\) returned[^\n]*/,
  /Verification failed: [^\n]*/,
  // GRUB: shim refused the kernel's signature, then every later command of the entry fails and GRUB waits for a key.
  /error: bad shim signature[^\n]*/,
  /error: you need to load the kernel first[^\n]*/,
  /Press any key to continue[^\n]*/,
]

/** Only for a UEFI node: the lab's VMs enforce Secure Boot, so a kernel that finds it off did not boot the way a node must. */
const FATAL_UEFI = [
  /secureboot: Secure boot (?:disabled|could not be determined)[^\n]*/,
  // GRUB read no grub.cfg (no TFTP server known: in proxy mode the network's DHCP server sent no
  // next-server) and waits at its command line for a person.
  /Minimal BASH-like line editing is supported[^\n]*/,
  /^grub(?: rescue)?> *$/m,
]

/** Terminal escapes and carriage returns the firmware and systemd write to the console. */
export function plainConsole(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\x1bc/g, '').replace(/\r/g, '')
}

/** The first line on the console (in its order, not the list's) that means the boot will not get anywhere. */
export function fatalLine(console: string, uefi = false): string | undefined {
  let first: RegExpExecArray | undefined
  for (const pattern of uefi ? [...FATAL, ...FATAL_UEFI] : FATAL) {
    const m = pattern.exec(console)
    if (m && (!first || m.index < first.index)) first = m
  }
  return first?.[0].trim()
}

/** The first file of the boot's chain the TFTP server refused ("File not found"): the client cannot go on without it. */
export function refusedFile(target: BootTarget, tftp: TftpTracker): string | undefined {
  for (const file of chainFiles(target)) {
    const t = tftp.read(file)
    if (t?.state === 'error') return `${t.file}: ${t.error ?? 'TFTP error'}`
  }
  return undefined
}

/** The kernel saying that the firmware booted it with Secure Boot on (its EFI stub, then the kernel proper). */
export function secureBootIn(console: string): boolean {
  return /secureboot: Secure boot enabled|EFI stub: UEFI Secure Boot is enabled/.test(console)
}

/** What the node says about itself on the console (printed by the lab's systemd.run= marker). */
export interface Identity {
  hostname?: string
  machineId?: string
  /** The hostname on the login prompt. */
  prompt?: string
  /** The resolvers of its /etc/resolv.conf. */
  nameservers: string[]
  search: string[]
  /** What its / is, from its mount table. */
  root?: {source: string, fstype: string}
}

export function identityIn(console: string): Identity {
  const resolv = [...console.matchAll(/\/etc\/resolv\.conf:(nameserver|search|domain)[ \t]+([^\n]*)/g)]
  return {
    hostname: /\/etc\/hostname:([a-z0-9.-]+)/.exec(console)?.[1] ?? /Hostname set to <([^>]+)>/.exec(console)?.[1],
    machineId: /\/etc\/machine-id:([0-9a-f]{32})\b/.exec(console)?.[1],
    prompt: /^([A-Za-z0-9.-]+) login: */m.exec(console)?.[1],
    nameservers: resolv.filter((m) => m[1] === 'nameserver').map((m) => m[2].trim()),
    search: resolv.filter((m) => m[1] !== 'nameserver').flatMap((m) => m[2].trim().split(/\s+/)),
    ...rootIn(console),
  }
}

/** The root line of the mount table the lab's unit prints (`/proc/self/mounts:SOURCE / FSTYPE ...`); the last one: / is mounted over the initramfs's. */
function rootIn(console: string): Pick<Identity, 'root'> {
  const m = [...console.matchAll(/\/proc\/self\/mounts:(\S+) \/ (\S+) /g)].at(-1)
  return m ? {root: {source: m[1], fstype: m[2]}} : {}
}

/** The addresses the node's two DHCP clients say they got: the PXE firmware (iPXE, or OVMF) and the initramfs (klibc ipconfig). */
export interface ConsoleAddresses {
  firmware?: string
  initramfs?: string
}

export function addressesIn(console: string): ConsoleAddresses {
  return {
    firmware: /(?:^|\s)net\d+: (\d+\.\d+\.\d+\.\d+)\/\d/m.exec(console)?.[1] ?? /Station IP address is (\d+\.\d+\.\d+\.\d+)/.exec(console)?.[1],
    initramfs: /IP-Config: \S+ complete[^\n]*\n\s*address: (\d+\.\d+\.\d+\.\d+)/.exec(console)?.[1],
  }
}

export interface Evidence {
  leases: readonly Lease[]
  tftp: TftpTracker
  mounts: readonly NfsMount[]
  /** The serial console so far, escapes removed. */
  console: string
  /** What the web server sent (boot.transport http). */
  http?: readonly LabFetch[]
}

/** Where the evidence shows the node's boot files, for its way of booting. */
export function fetchSource(target: BootTarget, e: Evidence): FetchSource {
  return {transport: target.transport ?? 'tftp', client: target.ip, tftp: e.tftp, http: e.http ?? [], sizes: target.sizes}
}

/**
 * Under Secure Boot GRUB's `linux` has shim check the kernel it fetched; only when shim accepts it
 * does GRUB go on to the initrd, so a request for the initrd is the evidence of acceptance.
 */
function kernelAccepted(target: BootTarget, e: Evidence): boolean {
  return e.tftp.read(target.initrd) !== undefined
}

/** Which milestones the evidence shows for this node; pure. The login prompt must carry the node's own name. */
export function reachedMilestones(target: BootTarget, e: Evidence): Set<MilestoneId> {
  const got = new Set<MilestoneId>()
  const said = addressesIn(e.console)
  if (e.leases.some((l) => l.ip === target.ip && l.mac === target.mac) && (said.firmware ?? target.ip) === target.ip) got.add('lease')
  const done = (file: string) => fetchedFile(fetchSource(target, e), file)?.state === 'done'
  if (done(target.loader)) got.add('loader')
  if (target.uefi && done(target.uefi.secondStage)) got.add('secondStage')
  if (target.uefi && done(target.uefi.menu)) got.add('menu')
  if (done(target.config)) got.add('config')
  if (done(target.kernel) && (!target.uefi || kernelAccepted(target, e))) got.add('kernel')
  if (done(target.initrd)) got.add('initrd')
  if (target.uefi && secureBootIn(e.console)) got.add('secureBoot')
  // An RBD root: the boot script says what it mounted. An NFS root: the server saw the mount.
  const mounted = target.rbd ? rbdMountedIn(e.console) !== undefined : e.mounts.some((m) => m.ok && m.client === target.ip && m.path === target.rootPath)
  // The initramfs's address from its own console line, or, where the console stays quiet, from
  // the root: it was mounted with the node's address.
  if (said.initramfs === target.ip || (said.initramfs === undefined && mounted)) got.add('ipconfig')
  if (mounted) got.add(target.rbd ? 'rbdroot' : 'nfsroot')
  if (identityIn(e.console).prompt === target.name) got.add('login')
  return got
}

/** Why a milestone is missing, in the words of the evidence, for the FAIL line. */
export function whyMissing(id: MilestoneId, target: BootTarget, e: Evidence): string | undefined {
  const fileWhy = (file: string) => fetchProblem(fetchSource(target, e), file)
  switch (id) {
    case 'lease': {
      const firmware = addressesIn(e.console).firmware
      if (firmware && firmware !== target.ip) return `the firmware got ${firmware} instead of ${target.ip}`
      const other = e.leases.find((l) => l.mac === target.mac)
      return other ? `got ${other.ip} instead of ${target.ip}` : `no DHCPACK for ${target.mac}`
    }
    case 'loader': return fileWhy(target.loader)
    case 'secondStage': return target.uefi && fileWhy(target.uefi.secondStage)
    case 'menu': return target.uefi && fileWhy(target.uefi.menu)
    case 'config': return fileWhy(target.config)
    case 'kernel': {
      if (fetchedFile(fetchSource(target, e), target.kernel)?.state !== 'done') return fileWhy(target.kernel)
      const refused = /error: bad shim signature/.test(e.console)
      return `${target.kernel} arrived but GRUB did not go on to the initrd${refused ? ': shim refused the kernel\'s signature ("bad shim signature")' : ''}`
    }
    case 'initrd': return fileWhy(target.initrd)
    case 'secureBoot': {
      const off = /secureboot: (Secure boot (?:disabled|could not be determined)[^\n]*)/.exec(e.console)
      return off ? `the kernel says "${off[1].trim()}"` : 'the kernel did not report Secure Boot on the console'
    }
    case 'ipconfig': {
      const initramfs = addressesIn(e.console).initramfs
      return initramfs ? `the initramfs got ${initramfs} instead of ${target.ip}` : undefined
    }
    // The boot script's FAILED line is the run's reason already (a fatal console line).
    case 'rbdroot': return rbdFailureIn(e.console) ? undefined : `no "pxeroot-rbd: / is" line for ${target.rbd?.name ?? 'its image'} on the console`
    case 'nfsroot': {
      const refused = e.mounts.find((m) => !m.ok && (m.client === target.ip || m.client === ''))
      return refused ? `the NFS server refused ${refused.path}: ${refused.why}` : `no NFS mount of ${target.rootPath} from ${target.ip}`
    }
    case 'login': {
      const prompt = identityIn(e.console).prompt
      return prompt ? `the login prompt says ${prompt}, not ${target.name}` : undefined
    }
  }
}
