/**
 * `apply --server NAME` on a site with several servers: each server writes its own share (its
 * address in next-server and the boot URLs, its name in Kea's HA hook, the exports of the roots
 * it holds, what it rendered in pxeroot/server.json, the kernels of the revisions nodes boot),
 * checked by the real kea-dhcp4 -t, dhcpd -t and exportfs, like every apply. ISC dhcpd runs on
 * the first server alone, and apply says so.
 */
import {promises as fs} from 'node:fs'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {applyBootConfig} from '../../src/apply/apply.js'
import {ISC_PATHS} from '../../src/backends/dhcp/isc.js'
import {KEA_PATHS} from '../../src/backends/dhcp/kea.js'
import {parseKeaConfig} from '../../src/render/dhcp/kea.js'
import {parseServerRecord} from '../../src/servers/record.js'
import {KERNEL, manifestFor} from '../archive/synthetic.js'
import {seedServersSiteText} from '../support/seed-model.js'
import {FIXTURES, freshRootPerTest, seedSite, snapshotTree, testContext} from '../support/tmp-root.js'

const tmp = freshRootPerTest()
const isRoot = process.getuid?.() === 0
const KEA = 'backends: {dhcp: kea}\ndhcp: {interface: eth0}\n'
/** The seed's nodes, node02's root on boot2. */
const NODES = async () => (await fs.readFile(path.join(FIXTURES, 'seed-nodes.yaml'), 'utf8')).replace('    ip: 192.168.0.202\n', '    ip: 192.168.0.202\n    server: boot2\n')

/** Two machines' roots with the same site and inventory, as two servers of one site have them. */
async function twoServers(extra: string): Promise<{boot1: string, boot2: string}> {
  const boot1 = path.join(tmp.dir, 'boot1')
  const boot2 = path.join(tmp.dir, 'boot2')
  for (const dir of [boot1, boot2]) {
    await seedSite(dir, {site: await seedServersSiteText(extra)})
    await fs.writeFile(path.join(dir, 'etc/pxeroot/nodes.yaml'), await NODES())
  }
  return {boot1, boot2}
}
const read = (dir: string, p: string) => fs.readFile(path.join(dir, p), 'utf8')

describe.skipIf(!isRoot)('apply --server on a site with several servers', () => {
  it('Kea: each server its own HA name and next-server, the same nodes; its roots\' exports; its record; a second apply changes nothing', async () => {
    const {boot1, boot2} = await twoServers(KEA)
    const one = await applyBootConfig({...testContext(boot1), server: 'boot1'})
    const two = await applyBootConfig({...testContext(boot2), server: 'boot2'})
    expect([one.server, two.server]).toEqual(['boot1', 'boot2'])
    for (const [dir, self, address, roots] of [[boot1, 'boot1', '192.168.0.10', ['node01', 'node03']], [boot2, 'boot2', '192.168.0.11', ['node02']]] as const) {
      const kea = parseKeaConfig(await read(dir, KEA_PATHS.config)).Dhcp4
      const ha = (kea['hooks-libraries'] as {parameters?: {'high-availability': {'this-server-name': string}[]}}[])[1].parameters!['high-availability'][0]
      expect(ha['this-server-name']).toBe(self)
      expect((kea.subnet4 as {'next-server': string}[])[0]['next-server']).toBe(address)
      // Every node boots from either server; its root from the server that holds it.
      expect(await read(dir, 'var/lib/tftpboot/pxelinux.cfg/C0A800CA')).toContain('nfsroot=192.168.0.11:/srv/nodes/node02,')
      expect(await read(dir, 'var/lib/tftpboot/pxelinux.cfg/C0A800C9')).toContain('nfsroot=192.168.0.10:/srv/nodes/node01,')
      const exported = (await read(dir, 'etc/exports.d/pxeroot.exports')).split('\n').filter((l) => l.startsWith('/srv/nodes/')).map((l) => l.split(' ')[0])
      expect(exported).toEqual(roots.map((n) => `/srv/nodes/${n}`))
      expect(parseServerRecord(await read(dir, 'var/lib/tftpboot/pxeroot/server.json'))).toMatchObject({server: self, address, role: self === 'boot1' ? 'primary' : 'standby', nodes: 3, roots})
    }
    // One site state, rendered by both: the same version.
    const [v1, v2] = await Promise.all([boot1, boot2].map(async (d) => parseServerRecord(await read(d, 'var/lib/tftpboot/pxeroot/server.json'))!.site))
    expect(v1).toMatch(/^[0-9a-f]{12}$/)
    expect(v2).toBe(v1)
    expect((await applyBootConfig({...testContext(boot2), server: 'boot2'})).changes).toEqual([])
  })

  it('without --server under --root: refused in one line, nothing written', async () => {
    const {boot1} = await twoServers(KEA)
    const before = await snapshotTree(boot1)
    await expect(applyBootConfig(testContext(boot1))).rejects.toThrow(/^the site has several servers \(boot1 \(192\.168\.0\.10\), boot2 \(192\.168\.0\.11\)\) and --root is set, so this machine is none of them; say which one this run is for$/)
    await expect(applyBootConfig({...testContext(boot1), server: 'boot3'})).rejects.toThrow(/--server boot3: no such server/)
    expect(await snapshotTree(boot1)).toEqual(before)
  })

  it('ISC dhcpd: the first server alone runs DHCP, and apply says plainly that there is no failover', async () => {
    const {boot1, boot2} = await twoServers('')
    const c1 = {...testContext(boot1), server: 'boot1'}
    const c2 = {...testContext(boot2), server: 'boot2'}
    const one = await applyBootConfig(c1)
    const two = await applyBootConfig(c2)
    expect(await read(boot1, ISC_PATHS.include)).toContain('next-server 192.168.0.10;')
    await expect(fs.stat(path.join(boot2, ISC_PATHS.include))).rejects.toThrow()
    expect(two.changes.map((c) => c.path)).not.toContain(ISC_PATHS.include)
    for (const [result, ctx] of [[one, c1], [two, c2]] as const) {
      expect(result.notices).toEqual([expect.stringMatching(/^backends\.dhcp isc gets no DHCP failover: only boot1 answers DHCP/)])
      expect(ctx.lines).toContain(result.notices![0])
    }
  })

  it('boot over HTTP: each server\'s iPXE URLs and web server are its own', async () => {
    const {boot2} = await twoServers('boot: {transport: http}\n')
    await applyBootConfig({...testContext(boot2), server: 'boot2'})
    expect(await read(boot2, 'var/lib/tftpboot/ipxe/boot.ipxe')).toContain('http://192.168.0.11/ipxe/nodes/')
    expect(await read(boot2, 'var/lib/tftpboot/ipxe/nodes/192.168.0.201.ipxe')).toContain('kernel http://192.168.0.11/pxeroot/')
    expect(await read(boot2, 'etc/lighttpd/conf-enabled/99-pxeroot.conf')).toContain('server.bind := "192.168.0.11"')
  })

  it('publishes the kernel and initrd of a revision a node boots where this server has none, from its image store, and never owns them', async () => {
    const {boot2} = await twoServers('')
    // node02 boots debian-bookworm@3 (seed inventory): its revision in boot2's image store, nothing in its tftp root.
    const rev = path.join(boot2, 'srv/pxeroot/images/debian-bookworm/3')
    await fs.mkdir(path.join(rev, 'rootfs/boot'), {recursive: true})
    await fs.writeFile(path.join(rev, 'manifest.json'), JSON.stringify(manifestFor('debian-bookworm', 3)))
    await fs.writeFile(path.join(rev, `rootfs/boot/vmlinuz-${KERNEL}`), 'KERNEL\0bytes')
    await fs.writeFile(path.join(rev, `rootfs/boot/initrd.img-${KERNEL}`), 'INITRD\0bytes')
    const dry = await applyBootConfig({...testContext(boot2), server: 'boot2'}, {dryRun: true})
    expect(dry.diff).toContain('Binary file /var/lib/tftpboot/pxeroot/debian-bookworm/3/vmlinuz: absent -> 12 bytes')
    await applyBootConfig({...testContext(boot2), server: 'boot2'})
    expect(await read(boot2, 'var/lib/tftpboot/pxeroot/debian-bookworm/3/vmlinuz')).toBe('KERNEL\0bytes')
    expect(((await fs.stat(path.join(boot2, 'var/lib/tftpboot/pxeroot/debian-bookworm/3/initrd.img'))).mode & 0o777)).toBe(0o644)
    const owned = JSON.parse(await read(boot2, 'var/lib/pxeroot/owned.json')) as {files: string[]}
    expect(owned.files.filter((f) => f.includes('debian-bookworm'))).toEqual([])
    expect((await applyBootConfig({...testContext(boot2), server: 'boot2'})).changes).toEqual([])
  })
})
