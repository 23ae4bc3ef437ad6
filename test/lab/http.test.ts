/**
 * The lab booting over HTTP (issue 12, boot.transport http): qemu's NIC ROM is iPXE itself, so
 * it asks DHCP with user class iPXE at once and gets boot.ipxe's URL; the node's script, kernel
 * and initrd then come from lighttpd running the generated drop-in, which its access log shows.
 * Needs root, qemu, lighttpd, dhcpd, tftpd-hpa and NFS-Ganesha.
 */
import {promises as fs} from 'node:fs'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {lighttpdFetches} from '../../src/backends/web/lighttpd-lab.js'
import {LAB_KERNEL_ARGS} from '../../src/lab/pxelinux.js'
import {labReport} from '../../src/lab/report.js'
import {type Golden, removeGoldenRoot} from '../support/golden.js'
import {bootInLab, cloneNodes, installed, isRoot, labGolden, leftovers, milestonesInOrder} from '../support/lab-run.js'

const MAC01 = '52:54:00:77:00:01'
let golden: Golden

describe.skipIf(!isRoot || !await installed('lighttpd'))('lab boot over HTTP', () => {
  beforeAll(async () => {
    golden = await labGolden((site) => `${site}boot:\n  transport: http\n`)
    await cloneNodes(golden, 1, {node01: MAC01})
  }, 1_800_000)

  afterAll(async () => {
    if (golden) await removeGoldenRoot(golden)
  })

  it('boots node01 with its script, kernel and initrd fetched from lighttpd, each whole (200, every byte)', async () => {
    const keep = `${golden.rootPrefix}-lab-logs`
    const result = await bootInLab(golden, ['node01'], {keepLogs: keep})
    const [n1] = result.nodes
    expect(n1, n1.reason).toMatchObject({name: 'node01', passed: true, mac: MAC01, hostname: 'node01', config: 'ipxe/nodes/01-52-54-00-77-00-01.ipxe'})
    expect(n1.milestones.map((m) => m.label)).toEqual(['DHCP lease', 'boot.ipxe (HTTP)', 'node script (HTTP)', 'kernel (HTTP)', 'initrd (HTTP)', 'initramfs lease', 'NFS root mounted', 'login prompt'])
    expect(milestonesInOrder(n1), JSON.stringify(n1.milestones)).toBe(true)
    expect(n1.addresses).toEqual({firmware: n1.ip, initramfs: n1.ip})
    expect(n1.kernelInitrd?.over).toBe('http')
    expect(n1.kernelInitrd!.seconds).toBeGreaterThan(0)
    expect(labReport(result)).toContain(`kernel + initrd: ${n1.kernelInitrd!.seconds.toFixed(1)} s over HTTP`)

    // lighttpd's access log: the scripts, kernel and initrd, each sent whole to the node's address.
    const tftp = golden.root.resolve(golden.site.paths.tftp)
    const fetched = lighttpdFetches(await fs.readFile(path.join(keep, 'lighttpd-access.log'), 'utf8')).filter((f) => f.status === 200)
    const kernel = fetched.find((f) => f.path.endsWith('/vmlinuz'))
    const initrd = fetched.find((f) => f.path.endsWith('/initrd.img'))
    expect(fetched.map((f) => f.path)).toEqual(expect.arrayContaining(['/ipxe/boot.ipxe', '/ipxe/nodes/01-52-54-00-77-00-01.ipxe']))
    expect(kernel).toMatchObject({client: n1.ip, bytes: (await fs.stat(path.join(tftp, kernel!.path))).size})
    expect(initrd).toMatchObject({client: n1.ip, bytes: (await fs.stat(path.join(tftp, initrd!.path))).size})
    // No TFTP step: the NIC's iPXE went straight to HTTP.
    expect(await fs.readFile(path.join(keep, 'tftpd.log'), 'utf8')).not.toMatch(/RRQ/)
    // The lab's copy of the node's script: the generated one, the lab's kernel arguments added to its kernel line.
    const script = await fs.readFile(path.join(tftp, n1.config), 'utf8')
    expect(await fs.readFile(path.join(keep, 'node01.ipxe'), 'utf8')).toBe(script.replace(/^(kernel .*)$/m, `$1 ${LAB_KERNEL_ARGS}`))
    await fs.rm(keep, {recursive: true, force: true})
    expect(await leftovers()).toEqual({namespaces: [], mounts: [], processes: []})
  }, 900_000)
})
