/**
 * An rbd gateway (storage.rbd.mode: gateway), against the run's real cluster: this server attaches
 * each node's clone at the node's root path and exports it through the real NFS-Ganesha as on a
 * local site; the nodes boot NFS roots. Read as a node would, with libnfs's nfs-cat in Ganesha's
 * own network namespace. The attachment is what a server's units make persistent (written by
 * apply) and what a takeover calls (attachGateway, detachGateway).
 */
import {promises as fs} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {beforeAll, describe, expect, it} from 'vitest'

import Apply from '../../src/commands/apply.js'
import NodesClone from '../../src/commands/nodes/clone.js'
import NodesRm from '../../src/commands/nodes/rm.js'
import {withStorageSection} from '../../src/config/site-edit.js'
import {attachGateway, detachGateway, gatewayLoop} from '../../src/storage/rbd/gateway.js'
import {cephSkipReason, type TestCluster} from '../support/ceph.js'
import {startGanesha} from '../support/ganesha-netns.js'
import {goldenRbdSite, leftovers, type RbdSite} from '../support/rbd-site.js'
import {runCommand} from '../support/run-command.js'

const skip = await cephSkipReason()
const ADDR = '10.88.79.1'

describe.skipIf(skip)(`an rbd gateway${skip ? ` (skipped: ${skip})` : ''}`, () => {
  const fixture = goldenRbdSite()
  let cluster: TestCluster
  let s: RbdSite

  beforeAll(async () => {
    ({cluster, site: s} = fixture)
    const file = path.join(s.dir, 'etc/pxeroot/pxeroot.yaml')
    const site = await s.site()
    await fs.writeFile(file, withStorageSection(await fs.readFile(file, 'utf8'), {backend: 'rbd', rbd: {...site.storage.rbd!, mode: 'gateway'}}))
  })

  it('clones a node whose boot entry is an NFS root of this server, and writes the units that attach it at boot', async () => {
    expect((await runCommand(NodesClone, ['1', ...s.root])).error?.message).toBeUndefined()
    expect(await s.images('node01')).toEqual(['root'])
    const entry = await fs.readFile(path.join(s.dir, 'var/lib/tftpboot/pxelinux.cfg/0A4D0064'), 'utf8')
    expect(entry).toMatch(/ root=\/dev\/nfs nfsroot=10\.77\.0\.1:\/srv\/nodes\/node01,vers=3,tcp ip=dhcp rw /)
    expect(entry).not.toContain('boot=rbd')
    expect(await fs.readFile(path.join(s.dir, 'etc/ganesha/pxeroot.conf'), 'utf8')).toContain('Path = "/srv/nodes/node01";')
    const template = await fs.readFile(path.join(s.dir, 'etc/systemd/system/pxeroot-rbd-root@.service'), 'utf8')
    expect(template).toContain(`ExecStart=/usr/bin/qemu-storage-daemon --blockdev driver=rbd,node-name=root,pool=${s.pool},namespace=%i,image=root,conf=/etc/ceph/ceph.conf,user=admin,cache.direct=on --export type=fuse,id=root,node-name=root,mountpoint=/run/pxeroot/gateway/%i,writable=on\n`)
    expect(template).toContain(`NetworkNamespacePath=/run/netns/${cluster.namespace}\n`)
    const mount = await fs.readFile(path.join(s.dir, 'etc/systemd/system/srv-nodes-node01.mount'), 'utf8')
    expect(mount).toContain('What=/run/pxeroot/gateway/node01\nWhere=/srv/nodes/node01\nType=ext4\nOptions=loop\n')
    expect(mount).toContain('Requires=pxeroot-rbd-root@node01.service\n')
    expect(await fs.readFile(path.join(s.dir, 'etc/systemd/system/nfs-ganesha.service.d/pxeroot-rbd-roots.conf'), 'utf8')).toContain('Wants=srv-nodes-node01.mount\n')
  }, 300_000)

  it('attaches the clone at the node\'s root path, where NFS-Ganesha serves it to the node', async () => {
    const site = await s.site()
    expect(await attachGateway(s.ctx, site, 'node01')).toBe(true)
    expect(await attachGateway(s.ctx, site, 'node01')).toBe(false)
    expect(await fs.readFile(path.join(s.dir, 'srv/nodes/node01/etc/hostname'), 'utf8')).toBe('node01\n')
    const ganesha = await startGanesha(await fs.mkdtemp(path.join(os.tmpdir(), 'pxeroot-gw-ganesha-')), ADDR,
      await fs.readFile(path.join(s.dir, 'etc/ganesha/pxeroot.conf'), 'utf8'), (p) => path.join(s.dir, p))
    try {
      expect(ganesha.cat(path.join(s.dir, 'srv/nodes/node01/etc/hostname'))).toBe('node01')
      // What the node writes reaches its clone: the server's own view of it says so.
      await fs.writeFile(path.join(s.dir, 'srv/nodes/node01/root/from-gateway'), 'ok\n')
      expect(ganesha.cat(path.join(s.dir, 'srv/nodes/node01/root/from-gateway'))).toBe('ok')
    } finally {
      await ganesha.stop()
      await fs.rm(ganesha.dir, {recursive: true, force: true})
    }
    expect(await detachGateway(s.ctx, site, 'node01')).toBe(true)
    expect(await gatewayLoop(s.ctx, site, 'node01')).toBeUndefined()
    expect(await leftovers(s.dir)).toEqual([])
    // Written through the gateway, kept in the cluster: attached again, it is there.
    await attachGateway(s.ctx, site, 'node01')
    expect(await fs.readFile(path.join(s.dir, 'srv/nodes/node01/root/from-gateway'), 'utf8')).toBe('ok\n')
  }, 300_000)

  it('nodes rm lets go of an attached root before it removes the clone; apply drops its units', async () => {
    const r = await runCommand(NodesRm, ['node01', ...s.root])
    expect(r.error?.message).toBeUndefined()
    expect(await s.namespaces()).toEqual(['revisions'])
    expect(await leftovers(s.dir)).toEqual([])
    expect((await runCommand(Apply, [...s.root])).error?.message).toBeUndefined()
    await expect(fs.stat(path.join(s.dir, 'etc/systemd/system/srv-nodes-node01.mount'))).rejects.toThrow(/ENOENT/)
  }, 300_000)
})
