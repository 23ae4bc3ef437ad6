/**
 * The lab's pass/fail decisions and its polling loop, without root, qemu or daemons: fake VM and
 * server feeds and a fake clock drive lab/watch.ts the way a real run does (lab/boot.test.ts).
 */
import {describe, expect, it} from 'vitest'

import {acceleratorFailed, newProgress, observe, SETTLE_MS, type BootProgress} from '../../src/lab/decide.js'
import {type BootTarget} from '../../src/lab/milestones.js'
import {TftpTracker} from '../../src/lab/tftp.js'
import {type ServerFeed, type VmFeed, watchBoots} from '../../src/lab/watch.js'

const SERVER = '10.77.0.1'
const TARGET: BootTarget = {
  name: 'node01', ip: '10.77.0.100', mac: '52:54:00:aa:00:01', rootPath: '/srv/nodes/node01',
  loader: 'pxelinux.0', config: 'pxelinux.cfg/01-52-54-00-aa-00-01', kernel: 'pxeroot/lab/1/vmlinuz', initrd: 'pxeroot/lab/1/initrd.img',
}

/** A TFTP tracker that has seen complete reads of these files. */
function readsOf(files: string[]): TftpTracker {
  const t = new TftpTracker(SERVER)
  files.forEach((file, i) => {
    const port = 2000 + i
    const rrq = Buffer.concat([Buffer.from([0, 1]), Buffer.from(`${file}\0octet\0`)])
    t.add({srcIp: TARGET.ip, dstIp: SERVER, srcPort: port, dstPort: 69, length: rrq.length, payload: rrq})
    t.add({srcIp: SERVER, dstIp: TARGET.ip, srcPort: 40_000 + i, dstPort: port, length: 104, payload: Buffer.from([0, 3, 0, 1, ...new Array(100).fill(0)])})
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

  it('stops each VM once decided and ends when every VM is decided', async () => {
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
