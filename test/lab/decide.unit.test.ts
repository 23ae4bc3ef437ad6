/**
 * The lab's pass/fail decisions and its polling loop, without root, qemu or daemons: fake VM and
 * server feeds and a fake clock drive lab/watch.ts the way a real run does (lab/boot.test.ts).
 */
import {describe, expect, it} from 'vitest'

import {acceleratorFailed, newProgress, observe, SETTLE_MS, type BootProgress} from '../../src/lab/decide.js'
import {addressesIn, type BootTarget, milestonesOf, whyMissing} from '../../src/lab/milestones.js'
import {TftpTracker} from '../../src/lab/tftp.js'
import {type ServerFeed, type VmFeed, watchBoots} from '../../src/lab/watch.js'

const SERVER = '10.77.0.1'
const TARGET: BootTarget = {
  name: 'node01', ip: '10.77.0.100', mac: '52:54:00:aa:00:01', rootPath: '/srv/nodes/node01',
  loader: 'pxelinux.0', config: 'pxelinux.cfg/01-52-54-00-aa-00-01', kernel: 'pxeroot/lab/1/vmlinuz', initrd: 'pxeroot/lab/1/initrd.img',
}

/** A TFTP tracker that has seen complete reads of these files, and the server refusing those `refused` names. */
function readsOf(files: string[], refused: string[] = []): TftpTracker {
  const t = new TftpTracker(SERVER)
  files.forEach((file, i) => {
    const port = 2000 + i
    const rrq = Buffer.concat([Buffer.from([0, 1]), Buffer.from(`${file}\0octet\0`)])
    t.add({srcIp: TARGET.ip, dstIp: SERVER, srcPort: port, dstPort: 69, length: rrq.length, payload: rrq})
    t.add({srcIp: SERVER, dstIp: TARGET.ip, srcPort: 40_000 + i, dstPort: port, length: 104, payload: Buffer.from([0, 3, 0, 1, ...new Array(100).fill(0)])})
  })
  refused.forEach((file, i) => {
    const port = 3000 + i
    const rrq = Buffer.concat([Buffer.from([0, 1]), Buffer.from(`${file}\0octet\0`)])
    t.add({srcIp: TARGET.ip, dstIp: SERVER, srcPort: port, dstPort: 69, length: rrq.length, payload: rrq})
    const error = Buffer.concat([Buffer.from([0, 5, 0, 1]), Buffer.from('File not found\0')])
    t.add({srcIp: SERVER, dstIp: TARGET.ip, srcPort: 41_000 + i, dstPort: port, length: error.length, payload: error})
  })
  return t
}

const ALL_FILES = [TARGET.loader, TARGET.config, TARGET.kernel, TARGET.initrd]
const LEASE = {ip: TARGET.ip, mac: TARGET.mac}
const MOUNT = {path: TARGET.rootPath, client: TARGET.ip, ok: true}

function run(progress: BootProgress, evidence: Partial<Parameters<typeof observe>[1]['evidence']>, now: number, extra: {vmEnded?: {error?: string}, deadline?: number} = {}) {
  return observe(progress, {evidence: {leases: [], mounts: [], console: '', tftp: readsOf([]), ...evidence}, now, deadline: extra.deadline ?? 600_000, vmEnded: extra.vmEnded})
}

describe('the lab\'s decision for one VM', () => {
  it('passes only when every milestone is seen, the login prompt with the node\'s own name last', () => {
    const p = newProgress(TARGET, 0)
    expect(run(p, {leases: [LEASE], tftp: readsOf(ALL_FILES.slice(0, 2))}, 5000)).toEqual(['lease', 'loader', 'config'])
    expect(p.outcome).toBeUndefined()
    run(p, {leases: [LEASE], tftp: readsOf(ALL_FILES), mounts: [MOUNT], console: 'Debian GNU/Linux 12 node01 ttyS0\n\nnode01 login: '}, 40_000)
    expect(p.outcome).toMatchObject({passed: true, kind: 'passed'})
    expect(p.reached.get('lease')).toBe(5)
    expect(p.reached.get('login')).toBe(40)
  })

  it('does not pass a node whose login prompt shows another node\'s name', () => {
    const p = newProgress(TARGET, 0)
    run(p, {leases: [LEASE], tftp: readsOf(ALL_FILES), mounts: [MOUNT], console: 'node02 login: '}, 40_000, {deadline: 50_000})
    expect(p.outcome).toBeUndefined()
    run(p, {leases: [LEASE], tftp: readsOf(ALL_FILES), mounts: [MOUNT], console: 'node02 login: '}, 60_000, {deadline: 50_000})
    expect(p.outcome).toMatchObject({passed: false, kind: 'timeout'})
  })

  it('fails at once on a console line that ends the boot, with that line as the reason', () => {
    const p = newProgress(TARGET, 0)
    run(p, {leases: [LEASE], console: 'Begin: Mounting root file system ...\nnfsmount: need a path\n(initramfs) '}, 30_000)
    expect(p.outcome).toMatchObject({passed: false, kind: 'fatal', reason: 'console: nfsmount: need a path'})
  })

  it('fails when the VM stops, and tells an accelerator failure (nothing reached) from a node failure', () => {
    const reset = newProgress(TARGET, 0)
    run(reset, {}, 2000, {vmEnded: {}})
    expect(reset.outcome).toMatchObject({passed: false, kind: 'stopped'})
    expect(acceleratorFailed([reset])).toBe(true)
    const later = newProgress(TARGET, 0)
    run(later, {leases: [LEASE]}, 9000, {vmEnded: {error: 'killed'}})
    expect(later.outcome?.reason).toBe('the VM stopped: killed')
    expect(acceleratorFailed([reset, later])).toBe(false)
  })

  it('after the login prompt waits SETTLE_MS for the server logs, then fails as incomplete', () => {
    const p = newProgress(TARGET, 0)
    run(p, {leases: [LEASE], console: 'node01 login: '}, 30_000)
    expect(p.outcome).toBeUndefined()
    run(p, {leases: [LEASE], console: 'node01 login: '}, 30_000 + SETTLE_MS + 1)
    expect(p.outcome).toMatchObject({passed: false, kind: 'incomplete'})
  })
})

/** A UEFI node bound by address: shim, then GRUB and its files (which GRUB names with a leading "/"). */
const UEFI: BootTarget = {
  name: 'node02', ip: '10.77.0.101', mac: '52:54:00:4d:00:65', rootPath: '/srv/nodes/node02', loader: 'bootx64.efi',
  uefi: {secondStage: 'grubx64.efi', menu: 'grub/grub.cfg'}, config: 'grub/nodes/0A4D0065.cfg', kernel: 'pxeroot/lab/1/vmlinuz', initrd: 'pxeroot/lab/1/initrd.img',
}
const UEFI_READS = ['bootx64.efi', 'grubx64.efi', '/grub/grub.cfg', '/grub/nodes/0A4D0065.cfg', '/pxeroot/lab/1/vmlinuz', '/pxeroot/lab/1/initrd.img']
/** What shim and GRUB ask for and may miss on every boot: shim's optional files, GRUB's module lists, the MAC file of an address-bound node. */
const UEFI_PROBES = ['revocations_sku.efi', 'shim_certificate_0.efi', '/grub/x86_64-efi/command.lst', '/grub/nodes/01-52-54-00-4d-00-65.cfg']
const UEFI_LEASE = {ip: UEFI.ip, mac: UEFI.mac}
const UEFI_MOUNT = {path: UEFI.rootPath, client: UEFI.ip, ok: true}
const SECURE_KERNEL = 'EFI stub: UEFI Secure Boot is enabled.\n[    0.000000] secureboot: Secure boot enabled\n[    0.000000] Kernel is locked down from EFI Secure Boot; see man kernel_lockdown.7\n'
const GRUB_REFUSED = 'pxeroot: node02 loads pxeroot/lab/1/vmlinuz\nerror: bad shim signature.\npxeroot: node02 loads pxeroot/lab/1/initrd.img\nerror: you need to load the kernel first.\n\nPress any key to continue...'

describe('the lab\'s decision for a UEFI node (Secure Boot enforced)', () => {
  it('names the shim and GRUB chain\'s milestones, and keeps BIOS\'s as they were', () => {
    expect(milestonesOf(UEFI).map((m) => m.label)).toEqual(['DHCP lease', 'TFTP bootx64.efi (shim)', 'TFTP grubx64.efi', 'grub.cfg', 'GRUB node file',
      'kernel', 'initrd', 'Secure Boot enabled', 'initramfs lease', 'NFS root mounted', 'login prompt'])
    expect(milestonesOf(TARGET).map((m) => m.label)).toEqual(['DHCP lease', 'TFTP pxelinux.0', 'pxelinux file', 'kernel', 'initrd', 'initramfs lease', 'NFS root mounted', 'login prompt'])
  })

  it('passes only once the kernel reports Secure Boot: a login prompt without it is incomplete', () => {
    const evidence = {leases: [UEFI_LEASE], tftp: readsOf(UEFI_READS, UEFI_PROBES), mounts: [UEFI_MOUNT]}
    const quiet = newProgress(UEFI, 0)
    run(quiet, {...evidence, console: 'node02 login: '}, 90_000)
    expect(quiet.outcome).toBeUndefined()
    expect(quiet.reached.has('kernel') && quiet.reached.has('login')).toBe(true)
    run(quiet, {...evidence, console: 'node02 login: '}, 90_000 + SETTLE_MS + 1)
    expect(quiet.outcome).toMatchObject({passed: false, kind: 'incomplete'})
    expect(whyMissing('secureBoot', UEFI, {...evidence, console: 'node02 login: '})).toBe('the kernel did not report Secure Boot on the console')

    const secure = newProgress(UEFI, 0)
    run(secure, {...evidence, console: `Station IP address is 10.77.0.101\n${SECURE_KERNEL}node02 login: `}, 90_000)
    expect(secure.outcome).toMatchObject({passed: true})
    expect(secure.reached.get('secureBoot')).toBe(90)
  })

  it('fails at once when the kernel finds Secure Boot off; a BIOS node\'s kernel may say so', () => {
    const console = '[    0.000000] secureboot: Secure boot disabled\n'
    const uefi = newProgress(UEFI, 0)
    run(uefi, {leases: [UEFI_LEASE], tftp: readsOf(UEFI_READS), console}, 30_000)
    expect(uefi.outcome).toMatchObject({passed: false, kind: 'fatal', reason: 'console: secureboot: Secure boot disabled'})
    expect(whyMissing('secureBoot', UEFI, {leases: [], mounts: [], tftp: readsOf([]), console})).toBe('the kernel says "Secure boot disabled"')
    const bios = newProgress(TARGET, 0)
    run(bios, {leases: [LEASE], tftp: readsOf(ALL_FILES), console}, 30_000)
    expect(bios.outcome).toBeUndefined()
  })

  it('fails at the kernel on GRUB\'s "bad shim signature", its first error rather than the ones that follow', () => {
    // shim refused the kernel: GRUB fetched it completely, never asked for the initrd, and waits for a key.
    const evidence = {leases: [UEFI_LEASE], tftp: readsOf(UEFI_READS.slice(0, 5)), mounts: [], console: GRUB_REFUSED}
    const p = newProgress(UEFI, 0)
    run(p, evidence, 20_000)
    expect(p.outcome).toMatchObject({passed: false, kind: 'fatal', reason: 'console: error: bad shim signature.'})
    expect(p.reached.has('config')).toBe(true)
    expect(p.reached.has('kernel')).toBe(false)
    expect(whyMissing('kernel', UEFI, evidence)).toBe('pxeroot/lab/1/vmlinuz arrived but GRUB did not go on to the initrd: shim refused the kernel\'s signature ("bad shim signature")')
  })

  it('fails at once when the TFTP server refuses a file of the chain, and not for the probes every boot misses', () => {
    const missing = newProgress(UEFI, 0)
    run(missing, {leases: [UEFI_LEASE], tftp: readsOf(['bootx64.efi'], ['grubx64.efi'])}, 9000)
    expect(missing.outcome).toMatchObject({passed: false, kind: 'fatal', reason: 'TFTP: grubx64.efi: File not found'})
    // shim's own words, should the capture lag behind the console.
    const shim = newProgress(UEFI, 0)
    run(shim, {leases: [UEFI_LEASE], console: 'Fetching Netboot Image grubx64.efi\nUnknown TFTP error, treating as file not found\nUnable to fetch TFTP image: Not Found\n'}, 9000)
    expect(shim.outcome).toMatchObject({kind: 'fatal', reason: 'console: Unable to fetch TFTP image: Not Found'})

    const probing = newProgress(UEFI, 0)
    run(probing, {leases: [UEFI_LEASE], tftp: readsOf(UEFI_READS.slice(0, 4), UEFI_PROBES)}, 12_000)
    expect(probing.outcome).toBeUndefined()
    expect([...probing.reached.keys()]).toEqual(['lease', 'loader', 'secondStage', 'menu', 'config'])
  })

  it('reads the address OVMF got from its console', () => {
    expect(addressesIn('>>Start PXE over IPv4.\n  Station IP address is 10.77.0.101\n\n  Server IP address is 10.77.0.1\n')).toEqual({firmware: '10.77.0.101', initramfs: undefined})
  })
})

/** A VM feed that replays console text at given (fake) times and records when it was stopped. */
function vmFeed(name: string, script: {at: number, console: string}[], clock: {now: number}): VmFeed & {stoppedAt?: number} {
  const feed: VmFeed & {stoppedAt?: number} = {
    progress: newProgress({...TARGET, name}, 0),
    async console() {
      const due = script.filter((s) => s.at <= clock.now)
      script.splice(0, due.length)
      return Buffer.from(due.map((s) => s.console).join(''))
    },
    capture: async () => Buffer.alloc(0),
    ended: () => undefined,
    async stop() {
      feed.stoppedAt = clock.now
    },
  }
  return feed
}

describe('the lab\'s polling loop', () => {
  const servers = (dead?: () => boolean): ServerFeed => ({leases: async () => [], nfsLog: async () => '', failed: async () => (dead?.() ? {name: 'dhcpd', why: 'bind: Address already in use'} : undefined)})

  it('stops each VM that failed once decided and ends when every VM is decided', async () => {
    const clock = {now: 0}
    const lines: string[] = []
    const bad = vmFeed('node01', [{at: 3000, console: 'Kernel panic - not syncing: VFS\n'}], clock)
    const slow = vmFeed('node02', [], clock)
    await watchBoots([bad, slow], servers(), {server: SERVER, timeoutMs: 10_000, signal: new AbortController().signal, log: (l) => lines.push(l),
      now: () => clock.now, wait: async (ms) => {
        clock.now += ms
      }})
    expect(bad.progress.outcome).toMatchObject({kind: 'fatal'})
    expect(bad.stoppedAt).toBe(3000)
    expect(slow.progress.outcome).toMatchObject({kind: 'timeout'})
    expect(slow.stoppedAt).toBeGreaterThan(10_000)
    expect(lines.filter((l) => /FAIL/.test(l))).toHaveLength(2)
  })

  it('ends the run with the server\'s own words when a server dies', async () => {
    const clock = {now: 0}
    const vm = vmFeed('node01', [], clock)
    await expect(watchBoots([vm], servers(() => clock.now > 2000), {server: SERVER, timeoutMs: 60_000, signal: new AbortController().signal, log: () => {},
      now: () => clock.now, wait: async (ms) => {
        clock.now += ms
      }})).rejects.toThrow(/dhcpd stopped during the lab run: bind: Address already in use/)
  })

  it('ends as interrupted on Ctrl-C', async () => {
    const abort = new AbortController()
    const clock = {now: 0}
    const vm = vmFeed('node01', [], clock)
    await expect(watchBoots([vm], servers(), {server: SERVER, timeoutMs: 60_000, signal: abort.signal, log: () => {}, now: () => clock.now, wait: async (ms) => {
      clock.now += ms
      if (clock.now > 3000) abort.abort(new Error('interrupted by SIGINT'))
    }})).rejects.toThrow(/interrupted by SIGINT/)
  })
})
